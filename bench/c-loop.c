/*
 * The reference loop the benchmarks hold this package against: PBM-protected
 * IRs written straight on OpenSSL's CMP client, one OSSL_CMP_CTX per thread.
 *
 *   c-loop --host H --port P --path pkix/ --ref REF --secret SECRET
 *          --trusted CA.pem --threads N --count M
 *          [--implicit-confirm] [--reinit] [--key KEY.pem] [--subject /CN=x]
 *          [--warmup K]
 *
 * Each IR gets a fresh EC P-256 key unless --key names one to reuse (a mock
 * that answers every request with one certificate needs its key). --reinit
 * keeps one context per thread and resets it with OSSL_CMP_CTX_reinit between
 * IRs; without it every IR builds and frees a context. --warmup runs K IRs on
 * one thread before the clock starts, as a long-running client would have
 * (the first IRs of a process fetch and cache OpenSSL's algorithms). Prints one JSON line:
 * {"count":M,"seconds":S,"cpuMs":C} (CPU of the whole process, all threads).
 */
#define _POSIX_C_SOURCE 200809L
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

static const char *host = "127.0.0.1", *path = "pkix/", *ref, *secret, *trusted_file, *key_file;
static const char *subject = "/CN=c-loop";
static int port, threads = 1, count = 1, implicit_confirm, reinit, warmup;
static atomic_int next_ir, failed;
static X509_STORE *trusted;
static EVP_PKEY *fixed_key;
static X509_NAME *subject_name;

static int quiet_log(const char *component, const char *file, int line, OSSL_CMP_severity level,
                     const char *msg) {
  (void)component, (void)file, (void)line, (void)level, (void)msg;
  return 1;
}

/* OpenSSL writes the HTTP header and body in two writes: without
 * TCP_NODELAY every round trip on a kept-alive connection waits ~40 ms. */
static BIO *nodelay(BIO *bio, void *arg, int connect, int detail) {
  int fd = -1, one = 1;
  (void)arg, (void)detail;
  if (connect && BIO_get_fd(bio, &fd) > 0 && fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return bio;
}

static OSSL_CMP_CTX *new_ctx(void) {
  OSSL_CMP_CTX *ctx = OSSL_CMP_CTX_new(NULL, NULL);
  if (ctx == NULL) return NULL;
  OSSL_CMP_CTX_set_log_cb(ctx, quiet_log);
  OSSL_CMP_CTX_set_http_cb(ctx, nodelay);
  return ctx;
}

/* Everything OSSL_CMP_CTX_reinit keeps is set once per context. */
static int configure(OSSL_CMP_CTX *ctx) {
  return OSSL_CMP_CTX_set1_server(ctx, host) && OSSL_CMP_CTX_set_serverPort(ctx, port) &&
         OSSL_CMP_CTX_set1_serverPath(ctx, path) &&
         OSSL_CMP_CTX_set1_referenceValue(ctx, (const unsigned char *)ref, (int)strlen(ref)) &&
         OSSL_CMP_CTX_set1_secretValue(ctx, (const unsigned char *)secret, (int)strlen(secret)) &&
         (trusted == NULL || (X509_STORE_up_ref(trusted) && OSSL_CMP_CTX_set0_trustedStore(ctx, trusted))) &&
         OSSL_CMP_CTX_set1_subjectName(ctx, subject_name) &&
         OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_IMPLICIT_CONFIRM, implicit_confirm);
}

static int one_ir(OSSL_CMP_CTX *ctx) {
  EVP_PKEY *key = fixed_key;
  if (key != NULL) {
    EVP_PKEY_up_ref(key);
  } else if ((key = EVP_EC_gen("P-256")) == NULL) {
    return 0;
  }
  if (!OSSL_CMP_CTX_set0_newPkey(ctx, 1, key)) {
    EVP_PKEY_free(key);
    return 0;
  }
  return OSSL_CMP_exec_IR_ses(ctx) != NULL;
}

static void *worker(void *arg) {
  OSSL_CMP_CTX *ctx = NULL;
  (void)arg;
  while (atomic_fetch_add(&next_ir, 1) < count) {
    int ok;
    if (ctx == NULL) {
      ctx = new_ctx();
      if (ctx == NULL || !configure(ctx)) {
        atomic_fetch_add(&failed, 1);
        ERR_print_errors_fp(stderr);
        OSSL_CMP_CTX_free(ctx);
        ctx = NULL;
        continue;
      }
    } else {
      OSSL_CMP_CTX_reinit(ctx);
    }
    ok = one_ir(ctx);
    if (!ok) {
      atomic_fetch_add(&failed, 1);
      fprintf(stderr, "c-loop: IR failed\n");
      ERR_print_errors_fp(stderr);
    }
    if (!reinit) {
      OSSL_CMP_CTX_free(ctx);
      ctx = NULL;
    }
  }
  OSSL_CMP_CTX_free(ctx);
  ERR_clear_error();
  return NULL;
}

static void usage(const char *why) {
  fprintf(stderr,
          "c-loop: %s\nusage: c-loop --host H --port P --path PATH --ref REF --secret SECRET --trusted CA.pem"
          " --threads N --count M [--implicit-confirm] [--reinit] [--key KEY.pem] [--subject NAME] [--warmup K]\n",
          why);
  exit(2);
}

static double cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void parse(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--implicit-confirm") == 0) {
      implicit_confirm = 1;
      continue;
    }
    if (strcmp(a, "--reinit") == 0) {
      reinit = 1;
      continue;
    }
    if (i + 1 >= argc) usage("missing value");
    const char *v = argv[++i];
    if (strcmp(a, "--host") == 0) host = v;
    else if (strcmp(a, "--port") == 0) port = atoi(v);
    else if (strcmp(a, "--path") == 0) path = v;
    else if (strcmp(a, "--ref") == 0) ref = v;
    else if (strcmp(a, "--secret") == 0) secret = v;
    else if (strcmp(a, "--trusted") == 0) trusted_file = v;
    else if (strcmp(a, "--threads") == 0) threads = atoi(v);
    else if (strcmp(a, "--count") == 0) count = atoi(v);
    else if (strcmp(a, "--key") == 0) key_file = v;
    else if (strcmp(a, "--subject") == 0) subject = v;
    else if (strcmp(a, "--warmup") == 0) warmup = atoi(v);
    else usage("unknown option");
  }
  if (port <= 0 || ref == NULL || secret == NULL || threads < 1 || count < 1) usage("bad or missing option");
}

static void load_inputs(void) {
  if (trusted_file != NULL) {
    trusted = X509_STORE_new();
    if (trusted == NULL || !X509_STORE_load_file(trusted, trusted_file)) usage("cannot load --trusted");
  }
  if (key_file != NULL) {
    FILE *f = fopen(key_file, "r");
    if (f == NULL || (fixed_key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) usage("cannot load --key");
    fclose(f);
  }
  subject_name = X509_NAME_new();
  /* "/CN=x/O=y" -> RDNs in order */
  char *copy = strdup(subject), *save = NULL;
  for (char *rdn = strtok_r(copy, "/", &save); rdn != NULL; rdn = strtok_r(NULL, "/", &save)) {
    char *eq = strchr(rdn, '=');
    if (eq == NULL) usage("bad --subject");
    *eq = '\0';
    if (!X509_NAME_add_entry_by_txt(subject_name, rdn, MBSTRING_UTF8, (unsigned char *)eq + 1, -1, -1, 0))
      usage("bad --subject");
  }
  free(copy);
}

int main(int argc, char **argv) {
  pthread_t *tids;
  double t0, c0;
  parse(argc, argv);
  load_inputs();
  tids = calloc((size_t)threads, sizeof *tids);
  if (warmup > 0) {
    int measured = count;
    count = warmup;
    worker(NULL);
    atomic_store(&next_ir, 0);
    count = measured;
  }
  c0 = cpu_ms();
  t0 = now_s();
  for (int i = 0; i < threads; i++) pthread_create(&tids[i], NULL, worker, NULL);
  for (int i = 0; i < threads; i++) pthread_join(tids[i], NULL);
  printf("{\"count\":%d,\"seconds\":%.6f,\"cpuMs\":%.3f}\n", count, now_s() - t0, cpu_ms() - c0);
  free(tids);
  X509_STORE_free(trusted);
  EVP_PKEY_free(fixed_key);
  X509_NAME_free(subject_name);
  if (atomic_load(&failed) > 0) {
    fprintf(stderr, "c-loop: %d of %d IRs failed\n", atomic_load(&failed), count);
    return 1;
  }
  return 0;
}
