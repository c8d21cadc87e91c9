"""The host firewall: a policy model, its nftables compiler, guarded apply and drift checks.

Shieldwall owns exactly one nftables table (``inet shieldwall``) and never
reads or writes any other. ``schema`` validates a policy section at the edge
(pydantic) and resolves inheritance into the frozen values of ``model``;
``compile`` turns a resolved policy into one nftables JSON batch; ``nft``
runs the ``nft`` binary (optionally inside a network namespace);
``guard`` applies with an automatic rollback unless confirmed; ``drift``
compares what the kernel holds with what was applied; ``reputation`` loads
IP reputation lists into sets of the same table.
"""
