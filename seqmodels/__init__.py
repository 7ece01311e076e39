"""Deep sequence models: each encodes [B, L] item ids into a user state scored against item embeddings."""
