"""Container engines behind one interface: ``base.Engine``."""
