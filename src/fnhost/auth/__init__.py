"""Who is calling and what they may do: principals, capabilities, tokens, sealed secrets."""
