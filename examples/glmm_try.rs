use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::glmm::Glmm;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cohort = Cohort::from_csv_path(&args[1], &LoadOptions::default()).unwrap();
    let nagq: usize = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(1);
    let t = std::time::Instant::now();
    let mut m = Glmm::new(&args[2]).unwrap().nagq(nagq); if let Some(f) = args.get(4) { m = m.family(f.parse().unwrap()); } if let Some(l) = args.get(5) { m = m.link(l.parse().unwrap()); } let fit = m.fit(&cohort).unwrap();
    let el = t.elapsed();
    for r in &fit.coefficients { println!("{:20} {:.10} {:.8}", r.term, r.estimate, r.std_error); }
    println!("sd {:?} loglik {:.10} conv {} sing {} iters {} evals {} gmax {:.2e} time {:?}", fit.random_effects.iter().map(|r| r.sd).collect::<Vec<_>>(), fit.loglik, fit.converged, fit.singular, fit.iterations, fit.evaluations, fit.gradient_max, el);
}
