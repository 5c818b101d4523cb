"""Running models: targets and how the QNN execution provider is found, provider options, the one session
factory, the compiled-context cache, which provider ran each node, native log capture, and feeds (inputs in,
float outputs out)."""
