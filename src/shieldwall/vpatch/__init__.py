"""Virtual patching: which IPS rules shield which open vulnerability findings (manager side)."""
