"""The domain core: what a Pod, a Node, a quantity, a selector, a Windows version, an image
reference or a timestamp is, and which manifests are valid. One implementation of each rule,
read by every other part; it imports nothing of Mixfleet but ``util``, and talks to nothing."""
