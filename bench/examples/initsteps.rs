use std::time::Instant;
fn main() {
    let t0 = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t1 = Instant::now();
    liaison::logging::init();
    let t2 = Instant::now();
    let aws = liaison::aws::lambda_sdk_config().unwrap();
    let t3 = Instant::now();
    let db = aws_sdk_dynamodb::Client::new(&aws);
    let t4 = Instant::now();
    let s3 = liaison::aws::s3_client(&aws);
    let t5 = Instant::now();
    let db2 = aws_sdk_dynamodb::Client::new(&aws);
    let t6 = Instant::now();
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1000.0;
    println!(
        "rt {:.3} log {:.3} cfg {:.3} db {:.3} s3 {:.3} db2 {:.3}",
        ms(t0, t1),
        ms(t1, t2),
        ms(t2, t3),
        ms(t3, t4),
        ms(t4, t5),
        ms(t5, t6)
    );
    drop((db, s3, db2, rt));
}
