use endpoint_runtime::prelude::*;

struct Limits {
    max: usize,
}

fn short(value: &str, limits: &Limits) -> garde::Result {
    if value.len() > limits.max {
        return Err(garde::Error::new("too long"));
    }
    Ok(())
}

// A garde context without `Default`: the runtime has none to give, so the endpoint does not
// build (rather than run unchecked).
#[derive(serde::Deserialize, garde::Validate)]
#[garde(context(Limits))]
struct Note {
    #[garde(custom(short))]
    body: String,
}

#[endpoint(id = "notes", route = "/", method = post)]
async fn add(Json(note): Json<Note>) -> String {
    note.body
}

fn main() {}
