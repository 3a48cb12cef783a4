// Matmuls on the GPU through cuBLASLt (bf16 inputs, fp32 compute), with the bias (and GELU)
// fused into the epilogue, and the deterministic bias gradient.
//
// Row-major shapes (PyTorch Linear): out (N, OC) = inp (N, IC) · W (OC, IC)ᵀ + bias (OC).
// cuBLASLt is column-major, so every product is written for the transposes, which are the same
// memory: a row-major (R, K) matrix is a column-major (K, R) one.
//   forward   outᵀ (OC, N)  = op(W as (IC, OC))ᵀ · inpᵀ (IC, N)        m=OC, n=N,  k=IC
//   dinp      dinpᵀ (IC, N) = W as (IC, OC) · doutᵀ (OC, N)            m=IC, n=N,  k=OC
//   dW        dWᵀ (IC, OC) += inpᵀ (IC, N) · (doutᵀ (OC, N))ᵀ          m=IC, n=OC, k=N
// The weight gradient is written in fp32 with beta = 1 (accumulation across micro-batches in
// fp32); bias gradient: column sums of dout in kColSumRows-row chunks, chunks summed in order.
// Epilogues: BIAS adds the bias per output row of the column-major result (= per OC);
// GELU_AUX_BIAS also stores the pre-activation (needed by the GELU backward) and applies GELU
// (cuBLASLt's GELU is the tanh approximation, as GPT-2's).
#include "runtime/cuda_common.cuh"
#include "model/cuda/cuda_plan.h"
#include "model/cuda/layers_cuda.h"
#include "runtime/error.h"

namespace lssa {

namespace {

// One cuBLASLt call: D (m, n) = alpha·op(A)·op(B) + beta·C, C = D, column-major.
struct LtGemm {
  int m, n, k;
  const void* A;
  int lda;
  bool transA;
  const void* B;
  int ldb;
  bool transB;
  void* D;
  int ldd;
  cudaDataType_t d_type;  // CUDA_R_16BF or CUDA_R_32F
  float beta;
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  const void* bias = nullptr;  // (m) bf16
  void* aux = nullptr;         // (m, n) bf16, ld = m
};

void lt_gemm(const DeviceContext& ctx, const LtGemm& g) {
  cublasLtMatmulDesc_t desc;
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t ta = g.transA ? CUBLAS_OP_T : CUBLAS_OP_N, tb = g.transB ? CUBLAS_OP_T : CUBLAS_OP_N;
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &g.epilogue, sizeof(g.epilogue)));
  if (g.bias) {
    const cudaDataType_t bt = CUDA_R_16BF;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof(bt)));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias, sizeof(g.bias)));
  }
  if (g.aux) {
    const int64_t ld = g.m;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &g.aux, sizeof(g.aux)));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ld, sizeof(ld)));
  }
  cublasLtMatrixLayout_t la, lb, ld;
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, g.transA ? g.k : g.m, g.transA ? g.m : g.k, g.lda));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, g.transB ? g.n : g.k, g.transB ? g.k : g.n, g.ldb));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&ld, g.d_type, g.m, g.n, g.ldd));
  cublasLtMatmulPreference_t pref;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                    &ctx.workspace_bytes, sizeof(ctx.workspace_bytes)));
  cublasLtMatmulHeuristicResult_t heur;
  int found = 0;
  CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(ctx.lt, desc, la, lb, ld, ld, pref, 1, &heur, &found));
  if (found == 0)
    fail(strfmt("cuBLASLt has no algorithm for a %d×%d×%d bf16 matmul (epilogue %d)", g.m, g.n, g.k, (int)g.epilogue));
  const float alpha = 1.f;
  CUBLAS_CHECK(cublasLtMatmul(ctx.lt, desc, &alpha, g.A, la, g.B, lb, &g.beta, g.D, ld, g.D, ld, &heur.algo,
                              ctx.workspace, ctx.workspace_bytes, ctx.stream));
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(ld);
  cublasLtMatmulDescDestroy(desc);
}

// Bias gradient, stage 1: grid (ceil(OC / block), chunks).
__global__ void bias_backward_partial(float* partial, const bf16* dout, int N, int OC) {
  const int o = blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= OC) return;
  const int r0 = blockIdx.y * kColSumRows, r1 = min(N, r0 + kColSumRows);
  float s = 0.f;
  for (int i = r0; i < r1; i++) s += __bfloat162float(dout[(size_t)i * OC + o]);
  partial[(size_t)blockIdx.y * OC + o] = s;
}

// Stage 2: chunks summed in order.
__global__ void bias_backward_final(float* dbias, const float* partial, int chunks, int OC) {
  const int o = blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= OC) return;
  float s = 0.f;
  for (int k = 0; k < chunks; k++) s += partial[(size_t)k * OC + o];
  dbias[o] += s;
}

}  // namespace

void matmul_forward_cuda(const DeviceContext& ctx, const MatmulForward& m) {
  LtGemm g{m.OC, m.N, m.IC, m.W, m.IC, true, m.inp, m.IC, false, m.out, m.OC, CUDA_R_16BF, 0.f};
  if (m.gelu) {
    if (!m.bias || !m.pre_gelu) fail("internal: the GELU epilogue needs a bias and a pre-activation buffer");
    g.epilogue = CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
    g.bias = m.bias;
    g.aux = m.pre_gelu;
  } else if (m.bias) {
    g.epilogue = CUBLASLT_EPILOGUE_BIAS;
    g.bias = m.bias;
  }
  lt_gemm(ctx, g);
}

void matmul_backward_cuda(const DeviceContext& ctx, const MatmulBackward& m) {
  if (m.dinp) lt_gemm(ctx, {m.IC, m.N, m.OC, m.W, m.IC, false, m.dout, m.OC, false, m.dinp, m.IC, CUDA_R_16BF, 0.f});
  lt_gemm(ctx, {m.IC, m.OC, m.N, m.inp, m.IC, false, m.dout, m.OC, true, m.dW, m.IC, CUDA_R_32F, 1.f});
  if (m.dbias) {
    const int block = 128, chunks = ceil_div(m.N, kColSumRows);
    bias_backward_partial<<<dim3(ceil_div(m.OC, block), chunks), block, 0, ctx.stream>>>(m.partial, m.dout, m.N, m.OC);
    CUDA_CHECK(cudaGetLastError());
    bias_backward_final<<<ceil_div(m.OC, block), block, 0, ctx.stream>>>(m.dbias, m.partial, chunks, m.OC);
    CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace lssa
