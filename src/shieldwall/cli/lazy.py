"""Import later: subcommands whose module is imported only when they run, and call-time imports.

``shieldwall --help`` lists every subcommand with the first paragraph of its
help, but importing every subcommand module (FastAPI, SQLAlchemy, the service
layer, the agent...) and building every click command would cost most of a
second. A ``LazyCommands`` registry holds, for each subcommand, its name, where
it lives (``package.module:attribute``) and its one-line help; the group lists
them from that, and imports and builds a subcommand only when it is invoked
(or asked for its own ``--help``). A test loads every registered subcommand and
checks that its real help matches the one listed here.

``lazy_function`` and ``lazy_module`` give a module-level name whose import
happens on first use, so that a command body can keep calling ``render(...)``
or ``store_cmds.store_scan(...)`` while the entry point stays light.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

import typer
import typer.main
from typer.core import MarkupMode, TyperCommand, TyperGroup, TyperOption
from typer.models import CommandInfo

if TYPE_CHECKING:
    from typer._click import Command, Context, HelpFormatter


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """One subcommand: its name, ``module:attribute`` (a ``typer.Typer`` or a command function), its help line."""

    name: str
    target: str
    help: str
    group: bool

    def obj(self) -> Any:
        """Import the module and return the attribute (a ``typer.Typer`` for a group, else a function)."""
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def load(self, rich_markup_mode: MarkupMode) -> Command:
        """Build the real click command, as ``app.add_typer`` / ``app.command`` would have."""
        target = self.obj()
        if self.group:
            if not isinstance(target, typer.Typer):
                raise TypeError(f"{self.target} is not a typer.Typer")
            command: Command = typer.main.get_group(target)
            command.name = self.name
            _set_markup_mode(command, rich_markup_mode)
            return command
        return typer.main.get_command_from_info(
            CommandInfo(name=self.name, callback=target),
            pretty_exceptions_short=True,
            rich_markup_mode=rich_markup_mode,
        )


def help_line(command: Command) -> str:
    """What a command list shows for ``command``: its short help, else the first paragraph of its help."""
    text = command.short_help or (command.help or "").split("\n\n")[0]
    return " ".join(text.split())


def _set_markup_mode(command: Command, mode: MarkupMode) -> None:
    """Give a loaded sub-app the help style of the app it is mounted in (as ``add_typer`` would have)."""
    if isinstance(command, TyperCommand | TyperGroup):
        command.rich_markup_mode = mode
    for sub in getattr(command, "commands", {}).values():
        _set_markup_mode(sub, mode)


class Placeholder(TyperCommand):
    """Stands for a subcommand in help listings until it is invoked; never runs."""

    def __init__(self, spec: LazyCommand) -> None:
        super().__init__(spec.name, help=spec.help)
        self.spec = spec

    def invoke(self, ctx: Context) -> Any:
        """Only reached if a caller bypassed ``resolve_command``: fail loudly, never pretend to have run."""
        raise RuntimeError(f"lazy subcommand {self.spec.name!r} was invoked before it was loaded")


@dataclass
class LazyCommands:
    """The lazily registered subcommands of one typer app, in registration order."""

    specs: list[LazyCommand] = field(default_factory=list)

    def add_typer(self, name: str, target: str, help: str) -> None:
        """Register a sub-app (``module:typer_app``) as subcommand group ``name``; ``help`` is its listed line."""
        self._add(LazyCommand(name, target, help, group=True))

    def command(self, name: str, target: str, help: str) -> None:
        """Register a command function (``module:function``) as subcommand ``name``; ``help`` is its listed line."""
        self._add(LazyCommand(name, target, help, group=False))

    def _add(self, spec: LazyCommand) -> None:
        if any(s.name == spec.name for s in self.specs):
            raise ValueError(f"subcommand {spec.name!r} registered twice")
        self.specs.append(spec)

    @property
    def group_class(self) -> type[LazyGroup]:
        """A ``TyperGroup`` subclass bound to this registry, for ``typer.Typer(cls=...)``."""
        return type("ShieldwallLazyGroup", (LazyGroup,), {"registry": self})


class LazyGroup(TyperGroup):
    """A typer group that lists lazy subcommands by their registered help and loads one when it is invoked.

    Listing order is typer's own: commands, then groups, each in registration
    order (eagerly registered ones first).
    """

    registry: ClassVar[LazyCommands] = LazyCommands()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        eager = dict(self.commands)
        lazy = {s.name: Placeholder(s) for s in self.registry.specs if s.name not in eager}
        ordered: dict[str, Command] = {}
        for wanted_group in (False, True):
            for name, command in eager.items():
                if isinstance(command, TyperGroup) is wanted_group:
                    ordered[name] = command
            for name, placeholder in lazy.items():
                if placeholder.spec.group is wanted_group:
                    ordered[name] = placeholder
        self.commands = ordered

    def get_help_option(self, ctx: Context) -> TyperOption | None:
        """The ``--help`` flag, defaulting to False rather than None when not given.

        Typer coerces a flag's value unless it already is a bool, and builds a
        pydantic adapter to coerce None: that import alone (about 0.1 s) would
        be paid by ``shieldwall scan --help``, where the root's ``--help`` is
        not given (and, for a subcommand's own flag, by ``shieldwall version``;
        see ``resolve_command``).
        """
        return _unset_is_false(super().get_help_option(ctx))

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        """The command list with each command's whole first paragraph (click would cut it at the first sentence)."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, help_line(command)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def load(self, name: str) -> Command | None:
        """The real subcommand ``name`` (imported and built on first use); None when there is none."""
        command = self.commands.get(name)
        if isinstance(command, Placeholder):
            command = self.commands[name] = command.spec.load(self.rich_markup_mode)
        return command

    def resolve_command(self, ctx: Context, args: list[str]) -> tuple[str | None, Command | None, list[str]]:
        """Load the subcommand about to run, then let click resolve it as usual."""
        if args:
            command = self.load(args[0])
            if command is not None and "help_option_names" not in command.context_settings:
                # its context inherits this one's help option names: the same flag, made the same way
                _unset_is_false(command.get_help_option(ctx))
        return super().resolve_command(ctx, args)


def _unset_is_false(option: TyperOption | None) -> TyperOption | None:
    if option is not None and option.default is None:
        option.default = False
    return option


def lazy_function(module: str, name: str) -> Callable[..., Any]:
    """A stand-in for ``module.name`` that imports the module on its first call."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``{module}.{name}``, imported on first call."
    return call


class _LazyModule(ModuleType):
    """A module object whose attributes come from ``name`` once something reads one."""

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self.__name__), attribute)


def lazy_module(name: str) -> ModuleType:
    """A stand-in for module ``name`` that imports it when an attribute is first read."""
    return _LazyModule(name)
