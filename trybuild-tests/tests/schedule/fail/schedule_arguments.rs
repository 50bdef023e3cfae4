use endpoint_runtime::prelude::*;

#[schedule]
async fn no_pattern() {}

#[schedule(cron = 15)]
async fn not_a_string() {}

#[schedule(cron = "@hourly", name = "purge sessions", every = "1m")]
async fn bad_name_and_unknown() {}

#[schedule(cron = "@hourly")]
fn not_async(ctx: Context) {
    let _ = ctx;
}

#[schedule(cron = "@hourly")]
async fn two_arguments(ctx: Context, more: u32) {
    let _ = (ctx, more);
}

#[schedule(cron = "@hourly", cron = "@daily", crate = endpoint_runtime, crate = endpoint_runtime)]
async fn twice() {}

fn main() {}
