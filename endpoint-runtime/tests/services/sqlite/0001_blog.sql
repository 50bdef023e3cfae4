CREATE TABLE authors (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    user_id TEXT NOT NULL
);

CREATE TABLE articles (
    id INTEGER PRIMARY KEY,
    title TEXT,
    status TEXT NOT NULL DEFAULT 'draft',
    author INTEGER REFERENCES authors (id),
    views BIGINT NOT NULL DEFAULT 0,
    featured BOOLEAN NOT NULL DEFAULT 0,
    meta JSON,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    reference UUID,
    price NUMERIC(10, 2)
);

INSERT INTO authors (id, name, user_id) VALUES (1, 'Ann', 'ann'), (2, 'Bob', 'bob');
INSERT INTO articles (id, title, status, author, views, featured) VALUES
    (1, 'Ann published', 'published', 1, 10, 1),
    (2, 'Ann draft', 'draft', 1, 0, 0),
    (3, 'Bob published', 'published', 2, 30, 0),
    (4, 'Bob draft', 'draft', 2, 5, 0),
    (5, 'Ann second', 'published', 1, 20, 0);
