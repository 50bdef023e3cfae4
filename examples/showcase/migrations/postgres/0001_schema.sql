-- The showcase schema (PostgreSQL). Kept in step with ../sqlite/0001_schema.sql.
CREATE TABLE recipes (
    id BIGINT PRIMARY KEY,
    title TEXT NOT NULL,
    views BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE authors (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    -- The accountability user (JWT `sub`) of this author, if they can sign in.
    user_id TEXT UNIQUE
);

CREATE TABLE articles (
    id BIGINT PRIMARY KEY,
    title TEXT NOT NULL,
    author_id BIGINT NOT NULL REFERENCES authors (id),
    status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
    published_at BIGINT,
    published_by TEXT
);

CREATE TABLE links (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL
);

CREATE TABLE products (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    price DOUBLE PRECISION NOT NULL,
    description TEXT NOT NULL
);

CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event TEXT NOT NULL,
    subject TEXT NOT NULL,
    actor TEXT,
    created_at BIGINT NOT NULL
);
