-- A table of this library's own, to show `migrations!` with a renamed runtime.
CREATE TABLE IF NOT EXISTS extra_probe (id INTEGER PRIMARY KEY);
