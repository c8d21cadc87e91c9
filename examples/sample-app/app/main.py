"""A tiny WSGI app: the sample repository Shieldwall's CI templates and gate tests scan."""

from werkzeug.wrappers import Request, Response


@Request.application
def application(request: Request) -> Response:
    """Say hello."""
    return Response(f"hello {request.args.get('name', 'world')}\n")


if __name__ == "__main__":
    from werkzeug.serving import run_simple

    run_simple("0.0.0.0", 8080, application)
