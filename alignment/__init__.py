"""Alignment of flow-matching video generators: Flow-DPO, Flow-RWR, SFT, reward guidance (pure ML) plus Django glue."""
