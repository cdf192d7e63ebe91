// TEMPORARY: removed once engine.cpp / functions.cpp exist.
