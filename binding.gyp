# The native-cpu addon (native/src): N-API through node-addon-api, so one binary per platform and architecture
# serves every Node and Electron version. BLAS: OpenBLAS on Linux (pkg-config, else -lopenblas), Accelerate on
# macOS, OpenBLAS on Windows from OPENBLAS_DIR (default C:/OpenBLAS: include/cblas.h, lib/openblas.lib). Only
# the Linux branch has been built and tested. scripts/build-native.mjs runs node-gyp on install and, when this
# fails, records why for the backend report. -ffp-contract=off: no fused multiply-adds, so AdamW rounds each
# operation to float32 as the tfjs composition does (bit-identical results); -fno-trapping-math lets the
# compiler vectorize the clamped exponentials (it changes no result).
{
  "targets": [
    {
      "target_name": "dumbo_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/activations.cc",
        "native/src/adamw.cc",
        "native/src/attention.cc",
        "native/src/blas.cc",
        "native/src/elementwise.cc",
        "native/src/lce.cc",
        "native/src/matmul.cc",
        "native/src/norms.cc",
        "native/src/pool.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O3", "-ffp-contract=off", "-fno-trapping-math", "-pthread"],
      "conditions": [
        ["OS=='linux'", {
          "defines": ["DUMBO_OPENBLAS"],
          "cflags_cc": ["<!@(pkg-config --cflags-only-I openblas 2>/dev/null || true)"],
          "libraries": ["<!@(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)", "-pthread"]
        }],
        ["OS=='mac'", {
          "defines": ["DUMBO_ACCELERATE", "ACCELERATE_NEW_LAPACK"],
          "libraries": ["-framework Accelerate"],
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "CLANG_CXX_LIBRARY": "libc++",
            "MACOSX_DEPLOYMENT_TARGET": "11.0",
            "OTHER_CPLUSPLUSFLAGS": ["-O3", "-ffp-contract=off", "-fno-trapping-math"]
          }
        }],
        ["OS=='win'", {
          "variables": {
            "openblas_dir": "<!(node -p \"process.env.OPENBLAS_DIR || 'C:/OpenBLAS'\")"
          },
          "defines": ["DUMBO_OPENBLAS", "_HAS_EXCEPTIONS=1", "_USE_MATH_DEFINES"],
          "include_dirs": ["<(openblas_dir)/include"],
          "libraries": ["<(openblas_dir)/lib/openblas.lib"],
          "msvs_settings": {
            "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17", "/fp:precise"] }
          }
        }]
      ]
    }
  ]
}
