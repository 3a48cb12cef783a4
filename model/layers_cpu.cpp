// GPT-2 layers on the CPU (see layers_cpu.h). Parallel loops use static OpenMP schedules and
// never reduce across threads into the same value, so results are bit-identical run to run and
// independent of the thread count (matmuls: OpenBLAS does not split the K reduction).
#include "model/layers_cpu.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#ifdef LSSA_HAVE_BLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

namespace lssa {

template <typename R>
void encoder_forward(R* out, const int* tokens, const R* wte, int N, int C) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < N; i++) std::copy(wte + (size_t)tokens[i] * C, wte + (size_t)(tokens[i] + 1) * C, out + (size_t)i * C);
}

template <typename R>
void encoder_backward(R* dwte, const R* dout, const int* tokens, int N, int C) {
  for (int i = 0; i < N; i++) {
    R* d = dwte + (size_t)tokens[i] * C;
    const R* g = dout + (size_t)i * C;
    for (int c = 0; c < C; c++) d[c] += g[c];
  }
}

template <typename R>
void layernorm_forward(R* out, R* mean, R* rstd, const R* inp, const R* w, const R* b, int N, int C) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < N; i++) {
    const R* x = inp + (size_t)i * C;
    R m = 0;
    for (int c = 0; c < C; c++) m += x[c];
    m /= C;
    R v = 0;
    for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
    v /= C;
    R s = R(1) / std::sqrt(v + R(1e-5));
    R* o = out + (size_t)i * C;
    for (int c = 0; c < C; c++) o[c] = (x[c] - m) * s * w[c] + b[c];
    mean[i] = m;
    rstd[i] = s;
  }
}

template <typename R>
void layernorm_backward(R* dinp, R* dw, R* db, const R* dout, const R* inp, const R* w, const R* mean,
                        const R* rstd, int N, int C) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < N; i++) {
    const R* x = inp + (size_t)i * C;
    const R* g = dout + (size_t)i * C;
    const R m = mean[i], s = rstd[i];
    R dnorm_mean = 0, dnorm_norm_mean = 0;
    for (int c = 0; c < C; c++) {
      R norm = (x[c] - m) * s, dnorm = w[c] * g[c];
      dnorm_mean += dnorm;
      dnorm_norm_mean += dnorm * norm;
    }
    dnorm_mean /= C;
    dnorm_norm_mean /= C;
    R* dx = dinp + (size_t)i * C;
    for (int c = 0; c < C; c++) {
      R norm = (x[c] - m) * s, dnorm = w[c] * g[c];
      dx[c] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
    }
  }
  // parameter gradients: split over channels, each summed over rows in order (deterministic)
#pragma omp parallel for schedule(static)
  for (int c = 0; c < C; c++) {
    R sw = 0, sb = 0;
    for (int i = 0; i < N; i++) {
      R g = dout[(size_t)i * C + c];
      sw += (inp[(size_t)i * C + c] - mean[i]) * rstd[i] * g;
      sb += g;
    }
    dw[c] += sw;
    db[c] += sb;
  }
}

namespace {
#ifdef LSSA_HAVE_BLAS
// BLAS runs single-threaded inside our own OpenMP threads: each thread computes a block of rows
// of C with one sgemm call. This avoids two thread pools (OpenMP + OpenBLAS's pthreads) fighting
// over the cores (measured: 20% of the time spent spinning in libgomp), and keeps results
// independent of timing (each element's K-reduction is one thread's, in BLAS's fixed order).
inline void blas(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* Cm, int ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Cm, ldc);
}
inline void blas(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, double alpha, const double* A, int lda,
                 const double* B, int ldb, double beta, double* Cm, int ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Cm, ldc);
}
// C (M, N) = alpha·op(A)·op(B) + beta·C, row-major, split over row blocks of C.
template <typename R>
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, R alpha, const R* A, int lda, const R* B,
          int ldb, R beta, R* Cm, int ldc) {
  static bool single = (openblas_set_num_threads(1), true);
  (void)single;
  const int nth = omp_get_max_threads();
  const int rows = std::max(16, (M + nth - 1) / nth);
  const int blocks = (M + rows - 1) / rows;
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (int blk = 0; blk < blocks; blk++) {
    const int m0 = blk * rows, m = std::min(rows, M - m0);
    // row m0 of op(A): A + m0·lda when A is not transposed, A + m0 (a column offset) when it is
    const R* a = ta == CblasNoTrans ? A + (size_t)m0 * lda : A + m0;
    blas(ta, tb, m, N, K, alpha, a, lda, B, ldb, beta, Cm + (size_t)m0 * ldc, ldc);
  }
}
#endif
}  // namespace

template <typename R>
void matmul_forward(R* out, const R* inp, const R* W, const R* bias, int N, int IC, int OC) {
#ifdef LSSA_HAVE_BLAS
  if (bias) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) std::copy(bias, bias + OC, out + (size_t)i * OC);
  }
  gemm(CblasNoTrans, CblasTrans, N, OC, IC, R(1), inp, IC, W, IC, bias ? R(1) : R(0), out, OC);
#else
#pragma omp parallel for schedule(static)
  for (int i = 0; i < N; i++) {
    const R* x = inp + (size_t)i * IC;
    for (int o = 0; o < OC; o++) {
      const R* w = W + (size_t)o * IC;
      R acc = bias ? bias[o] : R(0);
      for (int k = 0; k < IC; k++) acc += x[k] * w[k];
      out[(size_t)i * OC + o] = acc;
    }
  }
#endif
}

template <typename R>
void matmul_backward(R* dinp, R* dW, R* dbias, const R* dout, const R* inp, const R* W, int N, int IC, int OC) {
#ifdef LSSA_HAVE_BLAS
  if (dinp) gemm(CblasNoTrans, CblasNoTrans, N, IC, OC, R(1), dout, OC, W, IC, R(0), dinp, IC);
  gemm(CblasTrans, CblasNoTrans, OC, IC, N, R(1), dout, OC, inp, IC, R(1), dW, IC);
#else
  if (dinp) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
      R* dx = dinp + (size_t)i * IC;
      std::fill(dx, dx + IC, R(0));
      for (int o = 0; o < OC; o++) {
        R g = dout[(size_t)i * OC + o];
        const R* w = W + (size_t)o * IC;
        for (int k = 0; k < IC; k++) dx[k] += g * w[k];
      }
    }
  }
#pragma omp parallel for schedule(static)
  for (int o = 0; o < OC; o++) {
    R* dw = dW + (size_t)o * IC;
    for (int i = 0; i < N; i++) {
      R g = dout[(size_t)i * OC + o];
      const R* x = inp + (size_t)i * IC;
      for (int k = 0; k < IC; k++) dw[k] += g * x[k];
    }
  }
#endif
  if (dbias) {
#pragma omp parallel for schedule(static)
    for (int o = 0; o < OC; o++) {
      R s = 0;
      for (int i = 0; i < N; i++) s += dout[(size_t)i * OC + o];
      dbias[o] += s;
    }
  }
}

// GELU (tanh): 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))
template <typename R>
void gelu_forward(R* out, const R* inp, int n) {
  const R k = std::sqrt(R(2) / R(M_PI));
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; i++) {
    R x = inp[i];
    out[i] = R(0.5) * x * (R(1) + std::tanh(k * (x + R(0.044715) * x * x * x)));
  }
}

template <typename R>
void gelu_backward(R* dinp, const R* inp, const R* dout, int n) {
  const R k = std::sqrt(R(2) / R(M_PI));
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; i++) {
    R x = inp[i];
    R u = k * (x + R(0.044715) * x * x * x);
    R t = std::tanh(u);
    R du = k * (R(1) + R(3) * R(0.044715) * x * x);
    dinp[i] = (R(0.5) * (R(1) + t) + R(0.5) * x * (R(1) - t * t) * du) * dout[i];
  }
}

template <typename R>
void residual_forward(R* out, const R* a, const R* b, int n) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void RopeTable::build(RopeScaling s, double base, int T_, int T_train, int HS_) {
  T = T_;
  HS = HS_;
  const int H2 = HS / 2;
  cos.resize((size_t)T * H2);
  sin.resize((size_t)T * H2);
  const double m = rope_magnitude(s, T, T_train);  // 1 except YaRN beyond T_train
  for (int t = 0; t < T; t++) {
    for (int i = 0; i < H2; i++) {
      double a = rope_angle_at(s, base, i, t, T, T_train, HS);
      cos[(size_t)t * H2 + i] = m * std::cos(a);
      sin[(size_t)t * H2 + i] = m * std::sin(a);
    }
  }
}

template <typename R>
void rope_apply(R* qkv, const RopeTable& tab, int B, int T, int NH, int HS, int dir) {
  const int C = NH * HS, H2 = HS / 2;
#pragma omp parallel for schedule(static)
  for (int bt = 0; bt < B * T; bt++) {
    const int t = bt % T;
    const double* cs = &tab.cos[(size_t)t * H2];
    const double* sn = &tab.sin[(size_t)t * H2];
    for (int part = 0; part < 2; part++) {  // q, then k
      for (int h = 0; h < NH; h++) {
        R* x = qkv + (size_t)bt * 3 * C + part * C + h * HS;
        for (int i = 0; i < H2; i++) {
          R c = R(cs[i]), s = R(sn[i]) * R(dir);
          R x0 = x[i], x1 = x[i + H2];
          x[i] = x0 * c - x1 * s;
          x[i + H2] = x1 * c + x0 * s;
        }
      }
    }
  }
}

template <typename R>
double crossentropy_forward(R* losses, const R* logits, const int* targets, int N, int V, int Vp) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < N; i++) {
    const R* z = logits + (size_t)i * Vp;
    R mx = z[0];
    for (int v = 1; v < V; v++) mx = std::max(mx, z[v]);
    double sum = 0;  // exp in R (expf for the backend: 3x cheaper than exp), summed in double
    for (int v = 0; v < V; v++) sum += std::exp(z[v] - mx);
    losses[i] = R(std::log(sum) + mx - z[targets[i]]);
  }
  double total = 0;
  for (int i = 0; i < N; i++) total += losses[i];
  return total / N;
}

template <typename R>
void crossentropy_backward(R* dlogits, const R* logits, const int* targets, int N, int V, int Vp, R scale) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < N; i++) {
    const R* z = logits + (size_t)i * Vp;
    R* d = dlogits + (size_t)i * Vp;
    R mx = z[0];
    for (int v = 1; v < V; v++) mx = std::max(mx, z[v]);
    R sum = 0;
    for (int v = 0; v < V; v++) sum += (d[v] = std::exp(z[v] - mx));
    R inv = scale / sum;
    for (int v = 0; v < V; v++) d[v] *= inv;
    d[targets[i]] -= scale;
    for (int v = V; v < Vp; v++) d[v] = 0;
  }
}

#define LSSA_INSTANTIATE(R)                                                                      \
  template void encoder_forward<R>(R*, const int*, const R*, int, int);                          \
  template void encoder_backward<R>(R*, const R*, const int*, int, int);                         \
  template void layernorm_forward<R>(R*, R*, R*, const R*, const R*, const R*, int, int);        \
  template void layernorm_backward<R>(R*, R*, R*, const R*, const R*, const R*, const R*, const R*, int, int); \
  template void matmul_forward<R>(R*, const R*, const R*, const R*, int, int, int);              \
  template void matmul_backward<R>(R*, R*, R*, const R*, const R*, const R*, int, int, int);     \
  template void gelu_forward<R>(R*, const R*, int);                                              \
  template void gelu_backward<R>(R*, const R*, const R*, int);                                   \
  template void residual_forward<R>(R*, const R*, const R*, int);                                \
  template void rope_apply<R>(R*, const RopeTable&, int, int, int, int, int);                    \
  template double crossentropy_forward<R>(R*, const R*, const int*, int, int, int);              \
  template void crossentropy_backward<R>(R*, const R*, const int*, int, int, int, R);
LSSA_INSTANTIATE(float)
LSSA_INSTANTIATE(double)
#undef LSSA_INSTANTIATE

}  // namespace lssa
