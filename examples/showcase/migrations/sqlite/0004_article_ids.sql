-- New articles (`POST /articles`) get their id from the database: SQLite's INTEGER PRIMARY
-- KEY does so already (kept in step with ../postgres/0004_article_ids.sql).
SELECT 1;
