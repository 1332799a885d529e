{
  "variables": {
    # "node": resolve OpenSSL from the Node process (Linux, macOS).
    # "bundled": link a static OpenSSL from openssl_dir (a built no-shared
    # tree: include/, libssl and libcrypto) and keep its symbols private; the
    # only mode for Windows node.exe and Electron.
    "variables": {
      "conditions": [
        ["OS=='win'", {"openssl%": "bundled"}, {"openssl%": "node"}]
      ],
      "openssl_dir%": ""
    },
    "openssl%": "<(openssl)",
    "openssl_dir%": "<(openssl_dir)",
    "conditions": [
      ["openssl=='bundled'", {"openssl_include": "<(openssl_dir)/include"},
       {"openssl_include": "<!(node -p \"require('node-addon-api').include_dir\")"}]
    ]
  },
  # The bundled headers must come before the copies under Node's include
  # directory: these defaults precede node-gyp's, a target's own follow them.
  "target_defaults": {"include_dirs": ["<(openssl_include)"]},
  "targets": [
    {
      "target_name": "openssl_cmp",
      "sources": [
        "native/addon.cc",
        "native/addon_settings.cc",
        "native/cert_chain.cc",
        "native/cert_issuer.cc",
        "native/chain_cache.cc",
        "native/cmp_server.cc",
        "native/crmf_reader.cc",
        "native/server_callbacks.cc",
        "native/session_cache.cc",
        "native/cmp_context.cc",
        "native/ctx_setters.cc",
        "native/js_args.cc",
        "native/tls_options.cc",
        "native/verify_param.cc",
        "native/convert.cc",
        "native/ctx_state.cc",
        "native/exec_worker.cc",
        "native/executor.cc",
        "native/features.cc",
        "native/genm_emulation.cc",
        "native/process_settings.cc",
        "native/proc_args.cc",
        "native/file_formats.cc",
        "native/durable_files.cc",
        "native/issued_details.cc",
        "native/js_link.cc",
        "native/message_check.cc",
        "native/object_names.cc",
        "native/transfer_bridge.cc",
        "native/read_ahead.cc",
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
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "CLANG_CXX_LIBRARY": "libc++",
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "GCC_ENABLE_CPP_RTTI": "YES",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "GCC_TREAT_WARNINGS_AS_ERRORS": "YES",
        "MACOSX_DEPLOYMENT_TARGET": "11.0",
        "WARNING_CFLAGS": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-cast-function-type"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": {
          "ExceptionHandling": 1,
          "RuntimeTypeInfo": "true",
          "AdditionalOptions": ["/std:c++17", "/utf-8"]
        }
      },
      "conditions": [
        ["openssl=='node'", {
          "conditions": [
            ["OS=='linux'", {
              # Every direct OpenSSL reference is a 3.0 function; bind them at
              # load so a Node without them fails dlopen (the loader then tries
              # the bundled build) instead of aborting at the first call.
              "libraries": ["-ldl"],
              "ldflags": ["-Wl,-z,now"]
            }]
          ]
        }],
        ["openssl=='bundled'", {
          "product_name": "openssl_cmp_bundled",
          "defines": ["OPENSSL_CMP_BUNDLED"],
          "conditions": [
            ["OS=='linux'", {
              "libraries": ["<(openssl_dir)/libssl.a", "<(openssl_dir)/libcrypto.a", "-pthread"],
              # Library symbols become local and only the N-API entry points are
              # exported, so neither OpenSSL can bind to the other's functions.
              "ldflags": [
                "-Wl,--exclude-libs,ALL",
                "-Wl,--version-script=<(module_root_dir)/native/bundled.map",
                "-Wl,-z,now"
              ]
            }],
            ["OS=='mac'", {
              "libraries": ["<(openssl_dir)/libssl.a", "<(openssl_dir)/libcrypto.a"],
              "xcode_settings": {
                "OTHER_LDFLAGS": [
                  "-Wl,-exported_symbol,_napi_register_module_v1",
                  "-Wl,-exported_symbol,_node_api_module_get_api_version_v1"
                ]
              }
            }],
            ["OS=='win'", {
              "libraries": [
                "<(openssl_dir)/libssl.lib", "<(openssl_dir)/libcrypto.lib",
                "ws2_32.lib", "crypt32.lib", "advapi32.lib", "user32.lib"
              ]
            }]
          ]
        }]
      ],
      "configurations": {
        "Debug": {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"],
          "ldflags": ["-fsanitize=address,undefined"]
        }
      }
    }
  ]
}
