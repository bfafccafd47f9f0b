//! Reading a brand's realtime log (writes happen inside the transactions that cause them).

use desk_core::BrandId;

use crate::{Event, Result, Store, on_read};

impl Store {
    /// Events of a brand after `after_id`, oldest first: what a reconnecting console missed.
    pub async fn events_after(
        &self,
        brand: BrandId,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<Event>> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(concat!(
                events_select!(),
                " WHERE e.brand_id = $1 AND e.id > $2 ORDER BY e.id LIMIT $3"
            ))
            .bind(brand.0)
            .bind(after_id)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?)
    }
}
