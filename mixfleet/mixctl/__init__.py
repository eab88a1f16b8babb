"""``mixctl``: the command-line client (kubectl's habits), over ``mixfleet.client``."""
