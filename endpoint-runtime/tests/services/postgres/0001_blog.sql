CREATE TABLE authors (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    user_id TEXT NOT NULL
);

CREATE TABLE articles (
    id BIGSERIAL PRIMARY KEY,
    title TEXT,
    status TEXT NOT NULL DEFAULT 'draft',
    author BIGINT REFERENCES authors (id),
    views BIGINT NOT NULL DEFAULT 0,
    featured BOOLEAN NOT NULL DEFAULT FALSE,
    meta JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    reference UUID,
    price NUMERIC(10, 2)
);

INSERT INTO authors (id, name, user_id) VALUES (1, 'Ann', 'ann'), (2, 'Bob', 'bob');
INSERT INTO articles (id, title, status, author, views, featured) VALUES
    (1, 'Ann published', 'published', 1, 10, TRUE),
    (2, 'Ann draft', 'draft', 1, 0, FALSE),
    (3, 'Bob published', 'published', 2, 30, FALSE),
    (4, 'Bob draft', 'draft', 2, 5, FALSE),
    (5, 'Ann second', 'published', 1, 20, FALSE);
SELECT setval('articles_id_seq', 5);
