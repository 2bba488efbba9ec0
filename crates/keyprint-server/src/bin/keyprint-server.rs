//! `keyprint-server DATA_DIR [BIND] [--init-tenant NAME]`: the server alone, without the rest of the CLI
//! (for containers and the crash test). Prints `listening http://ADDR` and, with `--init-tenant`,
//! `token TOKEN` (a new admin key), then serves until killed. `keyprint serve` is the full front door.

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut pos = Vec::new();
    let mut tenant = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if a == "--init-tenant" {
            tenant = it.next();
        } else {
            pos.push(a);
        }
    }
    anyhow::ensure!(
        !pos.is_empty(),
        "usage: keyprint-server DATA_DIR [BIND] [--init-tenant NAME]"
    );
    let mut cfg = keyprint_server::ServeConfig::new(pos[0].clone().into());
    if let Some(b) = pos.get(1) {
        cfg.bind = b.parse()?;
    }
    tokio::runtime::Runtime::new()?.block_on(async {
        let running = keyprint_server::start(&cfg).await?;
        if let Some(t) = tenant {
            println!(
                "token {}",
                running
                    .service
                    .create_key(&t, keyprint_wire::Role::Admin)?
                    .token
            );
        }
        println!("listening {}", running.url());
        std::future::pending::<()>().await;
        Ok(())
    })
}
