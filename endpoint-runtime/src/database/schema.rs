//! The schema of the application's database (feature `services`): the seeds' `getSchema()`.
//!
//! Collections are the tables of the database (SQLite) or of the connection's current schema
//! (PostgreSQL: `current_schema()`, the test client's throwaway schema included); each has its
//! fields in table order and its many-to-one relations (foreign keys). Internal tables are not
//! collections: SQLite's own (`sqlite_*`), sqlx's migration table (`_sqlx_migrations`) and the
//! runtime's (`_endpoint_*`). Read from the catalogue with bound values only (`pragma_table_info`,
//! `pragma_foreign_key_list`, `information_schema`), once, then cached by the [`Database`]
//! until [`Database::refresh_schema`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use sqlx::Row as _;

use super::{Database, Pool};
use crate::error::Error;

/// The database's collections and relations. Cheap to share (`Arc`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Schema {
    /// The collections by name.
    pub collections: BTreeMap<String, Collection>,
    /// Every many-to-one relation (foreign key) between collections.
    pub relations: Vec<Relation>,
}

impl Schema {
    /// The collection `name`, if the database has it.
    pub fn collection(&self, name: &str) -> Option<&Collection> {
        self.collections.get(name)
    }

    /// The many-to-one relation of `collection`'s field `field`, if it is a foreign key.
    pub fn relation(&self, collection: &str, field: &str) -> Option<&Relation> {
        self.relations
            .iter()
            .find(|r| r.collection == collection && r.field == field)
    }

    /// The one-to-many relation of `collection` named `alias`: the foreign key of the
    /// collection `alias` that points to `collection` (`authors` ← `articles.author_id` is
    /// `authors`' one-to-many `articles`). Directus names these alias fields in its own
    /// metadata; here the name is the related collection's, so `None` too when that
    /// collection has several foreign keys to `collection` (which one would be ambiguous).
    pub fn one_to_many(&self, collection: &str, alias: &str) -> Option<&Relation> {
        let mut found = self
            .relations
            .iter()
            .filter(|r| r.related_collection == collection && r.collection == alias);
        match (found.next(), found.next()) {
            (Some(relation), None) => Some(relation),
            _ => None,
        }
    }
}

/// A table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Collection {
    /// The table's name.
    pub name: String,
    /// The columns, in table order.
    pub fields: Vec<Field>,
    /// The primary key's column when it is a single column (Directus's rule for items);
    /// `None` for a table without one or with a composite key.
    pub primary_key: Option<String>,
}

impl Collection {
    /// The field `name`, if the collection has it.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Field {
    /// The column's name.
    pub name: String,
    /// The type as the database declares it, lower case: `integer`, `text`,
    /// `timestamp with time zone`, `boolean`. SQLite's is whatever the `CREATE TABLE` wrote
    /// (empty for an untyped column).
    pub data_type: String,
    /// The kind the type belongs to (SQLite's affinity rules, PostgreSQL's type names).
    pub kind: FieldKind,
    /// Whether the column accepts `NULL`.
    pub nullable: bool,
    /// The default as an SQL expression (`0`, `'draft'`, `CURRENT_TIMESTAMP`,
    /// `nextval('…')`), if any.
    pub default: Option<String>,
    /// Whether the column is (part of) the primary key.
    pub primary_key: bool,
}

/// What kind of value a field holds, from its declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FieldKind {
    /// `integer`, `bigint`, `smallint`, `int4`, … (SQLite: a type containing `INT`).
    Integer,
    /// `real`, `double precision`, `float`.
    Float,
    /// `numeric`, `decimal`.
    Decimal,
    /// `boolean`, `bool`.
    Boolean,
    /// `text`, `varchar(…)`, `character varying`, `char(…)`, `clob`.
    Text,
    /// `json`, `jsonb`.
    Json,
    /// `uuid`.
    Uuid,
    /// `timestamp`, `timestamptz`, `datetime`.
    Timestamp,
    /// `date`.
    Date,
    /// `time`, `time with time zone`.
    Time,
    /// `blob`, `bytea`.
    Binary,
    /// Any other type (or none: SQLite's untyped column).
    Other,
}

impl FieldKind {
    /// The kind of a declared type (lower case).
    fn of(data_type: &str) -> Self {
        let t = data_type;
        if t.starts_with("interval") || t == "point" {
            FieldKind::Other
        } else if t.contains("int") {
            FieldKind::Integer
        } else if t.starts_with("bool") {
            FieldKind::Boolean
        } else if t.contains("json") {
            FieldKind::Json
        } else if t == "uuid" {
            FieldKind::Uuid
        } else if t.contains("timestamp") || t.contains("datetime") {
            FieldKind::Timestamp
        } else if t.starts_with("date") {
            FieldKind::Date
        } else if t.starts_with("time") {
            FieldKind::Time
        } else if t.contains("char") || t.contains("clob") || t.contains("text") {
            FieldKind::Text
        } else if t.contains("real") || t.contains("floa") || t.contains("doub") {
            FieldKind::Float
        } else if t.starts_with("numeric") || t.starts_with("decimal") {
            FieldKind::Decimal
        } else if t.contains("blob") || t == "bytea" {
            FieldKind::Binary
        } else {
            FieldKind::Other
        }
    }
}

/// A many-to-one relation: `collection.field` holds the key of a row of `related_collection`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Relation {
    /// The collection holding the foreign key (the "many" side).
    pub collection: String,
    /// The foreign-key field.
    pub field: String,
    /// The collection it points to (the "one" side).
    pub related_collection: String,
    /// The field it points to, usually the related collection's primary key.
    pub related_field: String,
}

/// The cache a [`Database`] keeps: `None` until the schema is first read.
pub(crate) type Cache = Arc<std::sync::RwLock<Option<Arc<Schema>>>>;

/// Whether `table` is the database's, sqlx's or the runtime's own rather than a collection.
fn internal(table: &str) -> bool {
    table.starts_with("sqlite_") || table.starts_with("_sqlx_") || table.starts_with("_endpoint_")
}

impl Database {
    /// The schema (the seeds' `getSchema()`), read from the database on first use and cached
    /// until [`refresh_schema`](Self::refresh_schema).
    ///
    /// # Errors
    ///
    /// - [`Error::Database`] when the catalogue cannot be read.
    pub async fn schema(&self) -> Result<Arc<Schema>, Error> {
        match self.cached_schema() {
            Some(schema) => Ok(schema),
            None => self.refresh_schema().await,
        }
    }

    /// The cached schema, if it has been read.
    pub(crate) fn cached_schema(&self) -> Option<Arc<Schema>> {
        self.schema
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the schema again (after a migration applied at run time, say) and caches it.
    ///
    /// # Errors
    ///
    /// - [`Error::Database`] when the catalogue cannot be read.
    pub async fn refresh_schema(&self) -> Result<Arc<Schema>, Error> {
        let schema = Arc::new(match self.pool() {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => sqlite(pool).await,
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => postgres(pool).await,
        }?);
        *self
            .schema
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::clone(&schema));
        Ok(schema)
    }
}

fn failed(error: sqlx::Error) -> Error {
    Error::database_from("cannot read the database schema", error)
}

#[cfg(feature = "sqlite")]
async fn sqlite(pool: &sqlx::SqlitePool) -> Result<Schema, Error> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(name AS TEXT) FROM sqlite_master WHERE type = 'table' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .map_err(failed)?;
    let mut schema = Schema::default();
    for table in tables.into_iter().filter(|t| !internal(t)) {
        let rows = sqlx::query(
            "SELECT CAST(name AS TEXT), CAST(type AS TEXT), CAST(\"notnull\" AS INTEGER), \
             CAST(dflt_value AS TEXT), CAST(pk AS INTEGER) FROM pragma_table_info($1) ORDER BY cid",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .map_err(failed)?;
        let mut fields = Vec::new();
        for row in rows {
            let data_type = row
                .try_get::<Option<String>, _>(1)
                .map_err(failed)?
                .unwrap_or_default()
                .to_lowercase();
            let primary_key = row.try_get::<i64, _>(4).map_err(failed)? > 0;
            fields.push(Field {
                name: row.try_get(0).map_err(failed)?,
                kind: FieldKind::of(&data_type),
                data_type,
                // SQLite lets a primary key that is not `INTEGER PRIMARY KEY` hold NULL unless
                // declared NOT NULL; the rowid alias never does.
                nullable: row.try_get::<i64, _>(2).map_err(failed)? == 0 && !primary_key,
                default: row.try_get(3).map_err(failed)?,
                primary_key,
            });
        }
        let keys = sqlx::query(
            "SELECT CAST(\"table\" AS TEXT), CAST(\"from\" AS TEXT), CAST(\"to\" AS TEXT) \
             FROM pragma_foreign_key_list($1) ORDER BY id, seq",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .map_err(failed)?;
        for row in keys {
            schema.relations.push(Relation {
                collection: table.clone(),
                field: row.try_get(1).map_err(failed)?,
                related_collection: row.try_get(0).map_err(failed)?,
                // `REFERENCES authors` without a column: the related primary key, filled below.
                related_field: row
                    .try_get::<Option<String>, _>(2)
                    .map_err(failed)?
                    .unwrap_or_default(),
            });
        }
        schema
            .collections
            .insert(table.clone(), collection(table, fields));
    }
    for relation in &mut schema.relations {
        if relation.related_field.is_empty() {
            relation.related_field = schema
                .collections
                .get(&relation.related_collection)
                .and_then(|c| c.primary_key.clone())
                .unwrap_or_default();
        }
    }
    Ok(schema)
}

#[cfg(feature = "postgres")]
async fn postgres(pool: &sqlx::PgPool) -> Result<Schema, Error> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name",
    )
    .fetch_all(pool)
    .await
    .map_err(failed)?;
    let keys: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(kcu.table_name AS TEXT), CAST(kcu.column_name AS TEXT) \
         FROM information_schema.table_constraints tc \
         JOIN information_schema.key_column_usage kcu \
           ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema \
         WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema()",
    )
    .fetch_all(pool)
    .await
    .map_err(failed)?;
    let mut schema = Schema::default();
    for table in tables.into_iter().filter(|t| !internal(t)) {
        let rows = sqlx::query(
            "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT), CAST(is_nullable AS TEXT), \
             CAST(column_default AS TEXT) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .map_err(failed)?;
        let mut fields = Vec::new();
        for row in rows {
            let name: String = row.try_get(0).map_err(failed)?;
            let data_type = row.try_get::<String, _>(1).map_err(failed)?.to_lowercase();
            fields.push(Field {
                primary_key: keys.iter().any(|(t, c)| *t == table && *c == name),
                name,
                kind: FieldKind::of(&data_type),
                data_type,
                nullable: row.try_get::<String, _>(2).map_err(failed)? == "YES",
                default: row.try_get(3).map_err(failed)?,
            });
        }
        schema
            .collections
            .insert(table.clone(), collection(table, fields));
    }
    let relations: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT CAST(kcu.table_name AS TEXT), CAST(kcu.column_name AS TEXT), \
                CAST(ccu.table_name AS TEXT), CAST(ccu.column_name AS TEXT) \
         FROM information_schema.table_constraints tc \
         JOIN information_schema.key_column_usage kcu \
           ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema \
         JOIN information_schema.constraint_column_usage ccu \
           ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema \
         WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema() \
         ORDER BY kcu.table_name, kcu.column_name",
    )
    .fetch_all(pool)
    .await
    .map_err(failed)?;
    schema.relations = relations
        .into_iter()
        .filter(|(table, ..)| schema.collections.contains_key(table))
        .map(
            |(collection, field, related_collection, related_field)| Relation {
                collection,
                field,
                related_collection,
                related_field,
            },
        )
        .collect();
    Ok(schema)
}

/// A collection of `fields`, with its single-column primary key.
fn collection(name: String, fields: Vec<Field>) -> Collection {
    let mut keys = fields.iter().filter(|f| f.primary_key);
    let primary_key = match (keys.next(), keys.next()) {
        (Some(key), None) => Some(key.name.clone()),
        _ => None,
    };
    Collection {
        name,
        fields,
        primary_key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_declared_type() {
        for (declared, kind) in [
            ("integer", FieldKind::Integer),
            ("bigint", FieldKind::Integer),
            ("smallint", FieldKind::Integer),
            ("boolean", FieldKind::Boolean),
            ("jsonb", FieldKind::Json),
            ("json", FieldKind::Json),
            ("uuid", FieldKind::Uuid),
            ("timestamp with time zone", FieldKind::Timestamp),
            ("datetime", FieldKind::Timestamp),
            ("date", FieldKind::Date),
            ("time without time zone", FieldKind::Time),
            ("character varying", FieldKind::Text),
            ("varchar(40)", FieldKind::Text),
            ("text", FieldKind::Text),
            ("double precision", FieldKind::Float),
            ("real", FieldKind::Float),
            ("numeric(10,2)", FieldKind::Decimal),
            ("bytea", FieldKind::Binary),
            ("blob", FieldKind::Binary),
            ("", FieldKind::Other),
            ("interval", FieldKind::Other),
            ("point", FieldKind::Other),
        ] {
            assert_eq!(FieldKind::of(declared), kind, "{declared}");
        }
    }

    #[test]
    fn internal_tables_are_not_collections() {
        assert!(internal("_sqlx_migrations"));
        assert!(internal("sqlite_sequence"));
        assert!(internal("_endpoint_outbox"));
        assert!(!internal("articles"));
        assert!(!internal("_drafts"));
    }
}
