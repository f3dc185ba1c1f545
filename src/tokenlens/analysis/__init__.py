"""Pure analyses: LazyFrame[PRICED] in, DataFrame out; no I/O and no Rich."""
