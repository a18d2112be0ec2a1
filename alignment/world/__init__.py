"""The synthetic world as the alignment library's test bench: training clips and prompt split, the grammar's text
encoder, pretraining of the tiny base generator, the pixel analyser as judge, and on-policy annotator pairs.

The only part of `alignment` that imports `synthetic`; the core library (losses, training, sampling, guidance,
evaluation) knows nothing of it.
"""
