use endpoint_runtime::prelude::*;

#[schedule(cron = "@daily")]
async fn report(ctx: Context) -> u32 {
    let _ = ctx;
    0
}

fn main() {}
