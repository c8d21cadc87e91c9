"""Layers to one view: whiteouts, origin-layer attribution, inventory assembly."""
