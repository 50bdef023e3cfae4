use endpoint_runtime::prelude::*;

// Four fields: a cron pattern has five (six with seconds).
#[schedule(cron = "*/15 * * *")]
async fn purge(ctx: Context) {
    let _ = ctx;
}

// A minute past 59.
#[schedule(cron = "75 * * * *")]
async fn late() {}

// February 30th never comes.
#[schedule(cron = "0 0 30 2 *")]
async fn never() {}

// A year field: croner reads one, but a year that passed would never run.
#[schedule(cron = "0 0 0 1 1 * 2020")]
async fn once() {}

fn main() {}
