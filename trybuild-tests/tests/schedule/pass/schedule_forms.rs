use endpoint_runtime::prelude::*;

/// Every 15 minutes, with the context, failing as an endpoint does.
#[schedule(cron = "*/15 * * * *")]
async fn purge(ctx: Context) -> Result<(), EndpointError> {
    let _ = ctx.accountability();
    Ok(())
}

/// Every ten seconds, named, without arguments.
#[schedule(cron = "*/10 * * * * *", name = "heartbeat.tick")]
async fn heartbeat() {}

/// An alias, and weekday names.
#[schedule(cron = "@hourly")]
async fn hourly() -> Result<(), EndpointError> {
    Ok(())
}

#[schedule(cron = "0 3 * * MON-FRI")]
async fn weekdays() {}

fn main() {
    let names: Vec<&str> = endpoint_runtime::schedule::schedules()
        .iter()
        .map(|job| job.name())
        .collect();
    assert_eq!(names, ["heartbeat.tick", "hourly", "purge", "weekdays"]);
}
