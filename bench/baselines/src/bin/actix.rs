//! The benchmark routes on actix-web 4, one worker, no middleware: the usual reference for a
//! fast Rust web framework.

use actix_web::{App, HttpResponse, HttpServer, Responder, get, post, web};

use endpoint_bench_baselines::{Echo, GREETING, User, port};

#[get("/greet/intro")]
async fn intro() -> &'static str {
    GREETING
}

#[get("/secure/intro")]
async fn secure_intro() -> &'static str {
    GREETING
}

#[get("/users/{id}")]
async fn user(id: web::Path<u64>) -> impl Responder {
    web::Json(User::new(id.into_inner()))
}

#[post("/echo")]
async fn echo(body: web::Json<Echo>) -> impl Responder {
    web::Json(body.into_inner())
}

#[post("/echo-value")]
async fn echo_value(body: web::Json<serde_json::Value>) -> impl Responder {
    HttpResponse::Ok().json(body.into_inner())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let server = HttpServer::new(|| {
        App::new()
            .service(intro)
            .service(secure_intro)
            .service(user)
            .service(echo)
            .service(echo_value)
    })
    .workers(1)
    .bind(("127.0.0.1", port(3215)))?;
    for address in server.addrs() {
        println!("listening on http://{address}");
    }
    server.run().await
}
