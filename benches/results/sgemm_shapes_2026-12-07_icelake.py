# PyTorch side of sgemm_shapes_2026-12-07_icelake.txt; capped with ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2, or not.
import torch, time
torch.set_num_threads(1)
for (m,n,k) in [(128,250,784),(128,250,500),(500,128,500),(784,500,128),(500,500,128),(500,250,500),(1000,1000,1000)]:
    a=torch.randn(m,k); b=torch.randn(k,n)
    for _ in range(3): a@b
    reps=max(5,int(4e9/(2*m*k*n)))
    t=time.perf_counter()
    for _ in range(reps): a@b
    dt=(time.perf_counter()-t)/reps
    print(f"{m}x{n}x{k}: {2*m*k*n/dt/1e9:.1f} GFLOP/s (1 thread)")
