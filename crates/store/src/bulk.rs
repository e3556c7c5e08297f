//! Multi-row INSERTs: one statement for many rows (chunked under the parameter limits of both
//! backends), which is what makes a group commit of hundreds of messages cheap.

use sqlx::AnyConnection;

/// Most bind parameters per statement (SQLite allows 32766, PostgreSQL 65535).
const MAX_PARAMS: usize = 4000;

/// One bound value.
pub(crate) enum Val<'a> {
    Text(&'a str),
    Int(i64),
    Bytes(&'a [u8]),
    OptBytes(Option<&'a [u8]>),
}

/// Inserts `rows` (each `width` values) as `{head} VALUES (…), (…) {tail}`; returns rows affected.
pub(crate) async fn insert_many(
    conn: &mut AnyConnection,
    head: &str,
    tail: &str,
    width: usize,
    rows: &[Vec<Val<'_>>],
) -> Result<u64, sqlx::Error> {
    let per_statement = (MAX_PARAMS / width).max(1);
    // SQLite binds `?` by position; sqlx resolves `$n` there by looking up each parameter's
    // name, which costs more than the insert itself for wide statements.
    let positional = conn.backend_name() == "SQLite";
    let mut affected = 0;
    for chunk in rows.chunks(per_statement) {
        let mut sql = String::with_capacity(head.len() + chunk.len() * width * 5 + tail.len());
        sql.push_str(head);
        sql.push_str(" VALUES ");
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for j in 0..width {
                n += 1;
                if j > 0 {
                    sql.push_str(", ");
                }
                if positional {
                    sql.push('?');
                } else {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
            }
            sql.push(')');
        }
        sql.push_str(tail);
        let mut query = sqlx::query(&sql);
        for row in chunk {
            debug_assert_eq!(row.len(), width);
            for v in row {
                query = match v {
                    Val::Text(t) => query.bind(*t),
                    Val::Int(i) => query.bind(*i),
                    Val::Bytes(b) => query.bind(*b),
                    Val::OptBytes(b) => query.bind(*b),
                };
            }
        }
        affected += query.execute(&mut *conn).await?.rows_affected();
    }
    Ok(affected)
}
