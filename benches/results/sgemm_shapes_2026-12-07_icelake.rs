// The program behind sgemm_shapes_2026-12-07_icelake.txt: a throwaway crate with
//   gemm = { version = "0.19", default-features = false, features = ["std", "rayon"] }
// and a feature v4 = ["gemm/x86-v4"], built once without and once with `--features v4`.
// The PyTorch side is sgemm_shapes_2026-12-07_icelake.py.
use std::time::Instant;
fn main() {
    // (m, n, k): dst m×n row-major = lhs m×k row-major · rhs k×n row-major, single thread
    let shapes = [(128, 250, 784), (128, 250, 500), (500, 128, 500), (784, 500, 128), (500, 500, 128), (500, 250, 500), (1000,1000,1000)];
    for &(m, n, k) in &shapes {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut c = vec![0f32; m * n];
        let run = |c: &mut Vec<f32>| unsafe {
            gemm::gemm(m, n, k, c.as_mut_ptr(), 1, n as isize, false, a.as_ptr(), 1, k as isize, b.as_ptr(), 1, n as isize, 1.0, 1.0, false, false, false, gemm::Parallelism::None)
        };
        for _ in 0..3 { run(&mut c); }
        let reps = (4e9 / (2.0 * (m * n * k) as f64)).max(5.0) as usize;
        let t = Instant::now();
        for _ in 0..reps { run(&mut c); }
        let dt = t.elapsed().as_secs_f64() / reps as f64;
        println!("{m}x{n}x{k}: {:.1} GFLOP/s (1 thread)", 2.0 * (m * n * k) as f64 / dt / 1e9);
    }
}
