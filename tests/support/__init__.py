"""Support code for the tests and benchmarks (not installed with the package): the local
Bot API stand-in, storage back-ends for parametrised tests, project paths."""
