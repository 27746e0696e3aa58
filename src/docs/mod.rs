//! The embedded Flux documentation: corpus blob, tokenizer, inverted index, ranking.
//! Does no network I/O and cannot fail at run time. OWNER: issue 5 (docs). Stub.
