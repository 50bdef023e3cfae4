-- Sample data for both databases, seeded once: migrations are recorded, so a restart does
-- not seed again.
INSERT INTO recipes (id, title, views) VALUES
    (1, 'Pancakes', 1200),
    (2, 'Ramen', 3400),
    (3, 'Shakshuka', 870),
    (4, 'Tarte Tatin', 2100),
    (5, 'Pho', 2950),
    (6, 'Risotto', 640),
    (7, 'Tacos al pastor', 4100),
    (8, 'Bibimbap', 1800),
    (9, 'Moussaka', 520),
    (10, 'Pad Thai', 3900),
    (11, 'Ceviche', 990),
    (12, 'Goulash', 300);

INSERT INTO authors (id, name, user_id) VALUES
    (1, 'Ann Author', 'ann'),
    (2, 'Bob Writer', 'bob'),
    (3, 'Cat Guest', NULL);

INSERT INTO articles (id, title, author_id, status, published_at, published_by) VALUES
    (1, 'Hello Directus', 1, 'published', 1700000000, 'seed'),
    (2, 'Extensions in depth', 1, 'published', 1700000100, 'seed'),
    (3, 'A draft by Ann', 1, 'draft', NULL, NULL),
    (4, 'Bob on endpoints', 2, 'published', 1700000200, 'seed'),
    (5, 'A draft by Bob', 2, 'draft', NULL, NULL),
    (6, 'Guest post', 3, 'draft', NULL, NULL);

INSERT INTO links (id, url) VALUES
    ('astro', 'https://astro.build/'),
    ('directus', 'https://directus.io/'),
    ('rust', 'https://www.rust-lang.org/');

INSERT INTO products (id, name, price, description) VALUES
    (1, 'Astro T-shirt', 25.0, 'A comfortable shirt with the Astro logo.'),
    (2, 'Rust mug', 12.5, 'Holds coffee, fearlessly.'),
    (3, 'Sticker pack', 4.0, 'Ten stickers for your laptop.');
