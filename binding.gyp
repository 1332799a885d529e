{
  "targets": [
    {
      "target_name": "openssl_cmp",
      "sources": [
        "native/addon.cc",
        "native/cert_chain.cc",
        "native/cert_issuer.cc",
        "native/chain_cache.cc",
        "native/cmp_server.cc",
        "native/cmp_context.cc",
        "native/convert.cc",
        "native/ctx_state.cc",
        "native/exec_worker.cc",
        "native/executor.cc",
        "native/features.cc",
        "native/process_settings.cc",
        "native/file_formats.cc",
        "native/js_link.cc",
        "native/message_check.cc",
        "native/transfer_bridge.cc",
        "native/ossl_error.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NAPI_CPP_EXCEPTIONS",
        "OPENSSL_API_COMPAT=30000",
        "OPENSSL_NO_DEPRECATED"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": [
        "-std=c++17", "-fexceptions", "-fvisibility=hidden",
        "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-Wno-cast-function-type"
      ],
      "libraries": ["-ldl"],
      "configurations": {
        "Debug": {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"],
          "ldflags": ["-fsanitize=address,undefined"]
        }
      }
    }
  ]
}
