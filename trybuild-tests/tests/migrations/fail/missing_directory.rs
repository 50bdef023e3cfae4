fn main() {
    let _ = endpoint_runtime::migrations!("no/such/dir");
}
