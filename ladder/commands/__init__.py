"""Sub-commands of the ``ladder`` CLI, each registering itself on the app."""
