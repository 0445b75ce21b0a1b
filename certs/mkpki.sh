#!/usr/bin/env bash
# mkpki.sh OUTDIR [--names "localhost,iot.example.test"]
#
# Generates the test PKI (CAs, endpoint server certs, device certs, bad server certs
# for certification scenarios, ca-bundle.crt, MANIFEST.json) into OUTDIR.
# Idempotent: an artefact is regenerated only when it is missing, expires within a
# day, no longer matches its key / issuer / configured names, or its issuer was
# regenerated. Prints one line per regenerated file and nothing when up to date.
# OPENSSL=/path/to/openssl overrides the CLI.
set -euo pipefail

OPENSSL=${OPENSSL:-openssl}
SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SRC_ROOT=$(cd "$SELF_DIR/.." && pwd -P)

CA_DAYS=3650
LEAF_DAYS=825
RENEW_SECONDS=86400 # regenerate what expires within a day
EXPIRED_START=20200101000000Z
EXPIRED_END=20200102000000Z
LARGE_MIN_DER=8192

die() {
    echo "mkpki: $*" >&2
    exit 1
}

usage() {
    echo "usage: mkpki.sh OUTDIR [--names \"name1,name2\"]" >&2
    exit 2
}

# ---------------------------------------------------------------- arguments
OUT=""
NAMES="localhost,iot.example.test"
while [ $# -gt 0 ]; do
    case "$1" in
    --names)
        [ $# -ge 2 ] || usage
        NAMES=$2
        shift 2
        ;;
    --names=*)
        NAMES=${1#--names=}
        shift
        ;;
    -h | --help) usage ;;
    -*) usage ;;
    *)
        [ -z "$OUT" ] || usage
        OUT=$1
        shift
        ;;
    esac
done
[ -n "$OUT" ] || usage
command -v "$OPENSSL" >/dev/null 2>&1 || die "openssl CLI not found ($OPENSSL)"

OUT=$(realpath -m -- "$OUT")
# Keys must never land where git could pick them up: inside the checkout only the
# ignored build trees (/build*/, /out/) are acceptable. Checked before mkdir. An
# installed copy (<prefix>/share/iotconform/certs) has no checkout around it.
if [ -f "$SRC_ROOT/CMakeLists.txt" ]; then
    case "$OUT/" in
    "$SRC_ROOT"/build*/* | "$SRC_ROOT"/out/*) ;;
    "$SRC_ROOT"/*) die "refusing to write keys into the source tree ($OUT); use a build directory" ;;
    esac
fi
mkdir -p "$OUT"

# Endpoint names become SAN entries: IP literals as IP:, everything else as DNS:.
SERVER_NAMES=()
IFS=',' read -r -a _raw_names <<<"$NAMES"
for n in "${_raw_names[@]}"; do
    n=${n//[[:space:]]/}
    [ -n "$n" ] || continue
    # IPv6 literals are left out: openssl prints them expanded, which would make the
    # SAN comparison below fail on every run (and SNI cannot carry an IP anyway).
    [[ "$n" =~ ^[A-Za-z0-9.*-]+$ ]] || die "invalid endpoint name '$n' (DNS name or IPv4)"
    SERVER_NAMES+=("$n")
done
[ ${#SERVER_NAMES[@]} -gt 0 ] || die "no endpoint names given"

san_entry() {
    if [[ "$1" =~ ^[0-9.]+$ ]]; then
        printf 'IP:%s' "$1"
    else
        printf 'DNS:%s' "$1"
    fi
}

join_san() {
    local out="" n
    for n in "$@"; do
        out+="${out:+,}$(san_entry "$n")"
    done
    printf '%s' "$out"
}

SERVER_SAN=$(join_san "${SERVER_NAMES[@]}")
# server-large: the right names first (so it is otherwise valid), then padding
# names until the DER encoding passes 8 KB, which overflows small TLS buffers.
LARGE_SAN=$SERVER_SAN
for i in $(seq -w 1 240); do
    LARGE_SAN+=",DNS:padding-name-$i.large.example.invalid"
done

# ---------------------------------------------------------------- work area
umask 077
exec 9>"$OUT/.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9 # concurrent builds into one OUTDIR must not interleave
fi
TMP=$(mktemp -d "$OUT/.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

declare -A REGEN=()

ossl() {
    if ! "$OPENSSL" "$@" 2>"$TMP/stderr"; then
        cat "$TMP/stderr" >&2
        die "openssl $1 failed"
    fi
}

rand_serial() {
    # 17 random octets with a non-zero, positive leading octet (RFC 5280 <= 20 octets).
    printf '0x01%s' "$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
}

# Canonical SAN text as printed by openssl, for comparison with what we asked for.
san_text() {
    local want=$1
    want=${want//IP:/IP Address:}
    printf '%s' "${want//,/, }"
}

# write_ext PROFILE SAN: the extension section for one certificate.
write_ext() {
    local profile=$1 san=$2 f=$TMP/ext.cnf
    {
        printf '[req]\ndistinguished_name = dn\n[dn]\n[ext]\n'
        case "$profile" in
        ca)
            printf 'basicConstraints = critical,CA:TRUE\n'
            printf 'keyUsage = critical,keyCertSign,cRLSign\n'
            printf 'subjectKeyIdentifier = hash\n'
            ;;
        server-rsa | client-rsa)
            printf 'basicConstraints = critical,CA:FALSE\n'
            # keyEncipherment: the plain-RSA TLS 1.2 suites AWS offers need it.
            printf 'keyUsage = critical,digitalSignature,keyEncipherment\n'
            ;;
        server-ec | client-ec)
            printf 'basicConstraints = critical,CA:FALSE\n'
            printf 'keyUsage = critical,digitalSignature\n'
            ;;
        esac
        case "$profile" in
        server-*) printf 'extendedKeyUsage = serverAuth\n' ;;
        client-*) printf 'extendedKeyUsage = clientAuth\n' ;;
        esac
        if [ "$profile" != ca ]; then
            printf 'subjectKeyIdentifier = hash\n'
            printf 'authorityKeyIdentifier = keyid:always\n'
        fi
        if [ -n "$san" ]; then
            printf 'subjectAltName = %s\n' "$san"
        fi
    } >"$f"
    printf '%s' "$f"
}

gen_key() {
    local type=$1 out=$2
    case "$type" in
    rsa) ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out" ;;
    ec) ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out" ;;
    *) die "unknown key type $type" ;;
    esac
}

# needs_regen NAME ISSUER MODE SAN: 0 (true) when NAME must be (re)generated.
# MODE is "valid" (must not expire within a day) or "expired" (regenerate only
# when missing or no longer signed by its issuer).
needs_regen() {
    local name=$1 issuer=$2 mode=$3 san=$4
    local crt=$OUT/$name.crt key=$OUT/$name.key
    [ -f "$crt" ] && [ -f "$key" ] || return 0
    if [ "$issuer" != "$name" ] && [ -n "${REGEN[$issuer]:-}" ]; then
        return 0
    fi
    # One x509 call for expiry, public key and SAN: the CLI's start-up dominates.
    local info check=()
    [ "$mode" = valid ] && check=(-checkend "$RENEW_SECONDS")
    info=$("$OPENSSL" x509 -in "$crt" -noout -pubkey -ext subjectAltName "${check[@]}" \
        2>/dev/null) || return 0
    # A crash between installing key and cert must not leave a mismatched pair.
    local cpub kpub
    cpub=$(sed -n '/-BEGIN PUBLIC KEY-/,/-END PUBLIC KEY-/p' <<<"$info")
    kpub=$("$OPENSSL" pkey -in "$key" -pubout 2>/dev/null) || return 0
    [ "$cpub" = "$kpub" ] || return 0
    # The issuer may have been replaced by an earlier, interrupted run.
    if [ "$issuer" != "$name" ]; then
        "$OPENSSL" verify -no_check_time -CAfile "$OUT/$issuer.crt" "$crt" >/dev/null 2>&1 ||
            return 0
    fi
    if [ -n "$san" ]; then
        local have
        have=$(sed -n '/Subject Alternative Name/{n;p;}' <<<"$info")
        have=${have#"${have%%[![:space:]]*}"}
        [ "$have" = "$(san_text "$san")" ] || return 0
    fi
    return 1
}

install_pair() {
    local name=$1
    chmod 0600 "$TMP/$name.key"
    chmod 0644 "$TMP/$name.crt"
    mv -f "$TMP/$name.key" "$OUT/$name.key"
    mv -f "$TMP/$name.crt" "$OUT/$name.crt"
    REGEN[$name]=1
    echo "mkpki: generated $name"
}

# make_cert NAME KEYTYPE ISSUER PROFILE SUBJECT SAN MODE
# ISSUER == NAME makes a self-signed certificate (a root CA, or device-noca).
make_cert() {
    local name=$1 type=$2 issuer=$3 profile=$4 subject=$5 san=$6 mode=$7
    needs_regen "$name" "$issuer" "$mode" "$san" || return 0
    gen_key "$type" "$TMP/$name.key"
    local ext days=$LEAF_DAYS
    ext=$(write_ext "$profile" "$san")
    [ "$profile" = ca ] && days=$CA_DAYS
    if [ "$issuer" = "$name" ]; then
        ossl req -new -x509 -key "$TMP/$name.key" -subj "$subject" -days "$days" -sha256 \
            -set_serial "$(rand_serial)" -config "$ext" -extensions ext -out "$TMP/$name.crt"
    elif [ "$mode" = expired ]; then
        sign_expired "$name" "$issuer" "$subject" "$ext"
    else
        ossl req -new -key "$TMP/$name.key" -subj "$subject" -CA "$OUT/$issuer.crt" \
            -CAkey "$OUT/$issuer.key" -days "$days" -sha256 -set_serial "$(rand_serial)" \
            -config "$ext" -extensions ext -out "$TMP/$name.crt"
    fi
    install_pair "$name"
}

# `openssl x509 -req` in 3.0 cannot set a validity in the past; `openssl ca` can.
sign_expired() {
    local name=$1 issuer=$2 subject=$3 ext=$4 d=$TMP/ca
    mkdir -p "$d"
    : >"$d/index.txt"
    printf '%s\n' "$(rand_serial | sed 's/^0x//')" >"$d/serial"
    cat >"$d/ca.cnf" <<EOF
[ca]
default_ca = sect
[sect]
database = $d/index.txt
new_certs_dir = $d
serial = $d/serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
organizationName = optional
EOF
    ossl req -new -key "$TMP/$name.key" -subj "$subject" -config "$ext" -out "$d/req.csr"
    ossl ca -batch -notext -config "$d/ca.cnf" -cert "$OUT/$issuer.crt" \
        -keyfile "$OUT/$issuer.key" -in "$d/req.csr" -startdate "$EXPIRED_START" \
        -enddate "$EXPIRED_END" -extfile "$ext" -extensions ext -preserveDN \
        -out "$TMP/$name.crt"
}

# ---------------------------------------------------------------- artefacts
# name|key|issuer|profile|subject|SAN|mode. Issuers come before what they sign.
# The names are a contract: fixtures, the endpoint and the tests refer to them.
ORG="/O=iotconform test PKI"
SRV="$ORG/CN=${SERVER_NAMES[0]}"
TABLE=(
    "ca-rsa|rsa|ca-rsa|ca|$ORG/CN=iotconform test CA RSA||valid"
    "ca-ec|ec|ca-ec|ca|$ORG/CN=iotconform test CA EC||valid"
    "ca-rogue|ec|ca-rogue|ca|$ORG/CN=iotconform rogue CA||valid"
    "server-rsa|rsa|ca-rsa|server-rsa|$SRV|$SERVER_SAN|valid"
    "server-ec|ec|ca-ec|server-ec|$SRV|$SERVER_SAN|valid"
    "server-untrusted|ec|ca-rogue|server-ec|$SRV|$SERVER_SAN|valid"
    "server-wrongname|ec|ca-ec|server-ec|$ORG/CN=wrong.example.invalid|DNS:wrong.example.invalid|valid"
    "server-expired|ec|ca-ec|server-ec|$SRV|$SERVER_SAN|expired"
    "server-large|ec|ca-ec|server-ec|$SRV|$LARGE_SAN|valid"
    "device-01|rsa|ca-rsa|client-rsa|/CN=device-01||valid"
    "device-02|ec|ca-ec|client-ec|/CN=device-02||valid"
    "device-03|rsa|ca-rsa|client-rsa|/CN=device-03||valid"
    "device-04|ec|ca-ec|client-ec|/CN=device-04||valid"
    "device-inactive|ec|ca-ec|client-ec|/CN=device-inactive||valid"
    "device-revoked|ec|ca-ec|client-ec|/CN=device-revoked||valid"
    "device-pending|ec|ca-ec|client-ec|/CN=device-pending||valid"
    "device-unregistered|ec|ca-ec|client-ec|/CN=device-unregistered||valid"
    "device-rogue|ec|ca-rogue|client-ec|/CN=device-rogue||valid"
    "device-noca|ec|device-noca|client-ec|/CN=device-noca||valid"
    "device-05|ec|ca-ec|client-ec|/CN=device-05||valid"
    "device-06|ec|ca-ec|client-ec|/CN=device-06||valid"
    "device-07|ec|ca-ec|client-ec|/CN=device-07||valid"
    "device-08|ec|ca-ec|client-ec|/CN=device-08||valid"
    "device-09|ec|ca-ec|client-ec|/CN=device-09||valid"
    "device-10|ec|ca-ec|client-ec|/CN=device-10||valid"
    "device-11|ec|ca-ec|client-ec|/CN=device-11||valid"
)
ARTEFACTS=()
declare -A ISSUER_OF=() MODE_OF=()
for row in "${TABLE[@]}"; do
    IFS='|' read -r _n _t _i _p _s _san _m <<<"$row"
    ARTEFACTS+=("$_n")
    ISSUER_OF[$_n]=$_i
    MODE_OF[$_n]=$_m
done

# Fast path: when the recipe, the names and every file are exactly as the last full
# run left them and nothing is due for renewal, there is nothing to check. The full
# checks below cost ~100 openssl start-ups; this costs one sha256sum.
STATE=$OUT/.state
state_now() {
    local files=() a
    for a in "${ARTEFACTS[@]}"; do
        files+=("$a.crt" "$a.key")
    done
    files+=(ca-bundle.crt MANIFEST.json authorizer-signing.key authorizer-signing.pub)
    printf 'recipe %s\n' "$(sha256sum <"$SELF_DIR/mkpki.sh" | cut -d' ' -f1)"
    printf 'names %s\n' "${SERVER_NAMES[*]}"
    (cd "$OUT" && sha256sum -- "${files[@]}" 2>/dev/null) || printf 'incomplete\n'
}
# Keys stay private even if someone loosened a mode (chmod leaves mtimes alone).
find "$OUT" -maxdepth 1 -name '*.key' -type f ! -perm 0600 -exec chmod 0600 {} +
if [ -f "$STATE" ]; then
    renew_by=$(sed -n 's/^renew_by //p' "$STATE")
    if [[ "$renew_by" =~ ^[0-9]+$ ]] && [ "$(date +%s)" -lt "$renew_by" ] &&
        [ "$(sed '/^renew_by /d' "$STATE")" = "$(state_now)" ]; then
        exit 0
    fi
fi

for row in "${TABLE[@]}"; do
    IFS='|' read -r _n _t _i _p _s _san _m <<<"$row"
    make_cert "$_n" "$_t" "$_i" "$_p" "$_s" "$_san" "$_m"
done

# The custom authorizer's token-signing key pair (RSA 2048, as AWS requires >= 2048 bits):
# devices sign tokens with the private key, the registry holds the public key.
if [ ! -s "$OUT/authorizer-signing.key" ] || [ ! -s "$OUT/authorizer-signing.pub" ]; then
    ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/authorizer-signing.key"
    ossl pkey -in "$TMP/authorizer-signing.key" -pubout -out "$TMP/authorizer-signing.pub"
    mv -f "$TMP/authorizer-signing.key" "$OUT/authorizer-signing.key"
    mv -f "$TMP/authorizer-signing.pub" "$OUT/authorizer-signing.pub"
    echo "mkpki: generated authorizer-signing.key/.pub"
fi

# Rewrite a derived file only when its content changes, so mtimes stay stable.
replace_if_changed() {
    local tmp=$1 dst=$2
    if [ -f "$dst" ] && cmp -s "$tmp" "$dst"; then
        rm -f "$tmp"
        return 0
    fi
    chmod 0644 "$tmp"
    mv -f "$tmp" "$dst"
    echo "mkpki: generated $(basename "$dst")"
}

# What clients trust: both registered CAs (not the rogue one).
cat "$OUT/ca-rsa.crt" "$OUT/ca-ec.crt" >"$TMP/ca-bundle.crt"
replace_if_changed "$TMP/ca-bundle.crt" "$OUT/ca-bundle.crt"

json_str() {
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "$s"
}

role_of() {
    case "$1" in
    ca-*) echo ca ;;
    server-*) echo server ;;
    *) echo device ;;
    esac
}

manifest_entry() {
    local name=$1 info fp subject issuer nb na algo bits keytype
    info=$("$OPENSSL" x509 -in "$OUT/$name.crt" -noout -fingerprint -sha256 -nameopt RFC2253 \
        -subject -issuer -dateopt iso_8601 -startdate -enddate -text \
        -certopt no_header,no_version,no_serial,no_signame,no_validity,no_subject,no_issuer,no_extensions,no_sigdump,no_aux) ||
        die "cannot read $name.crt"
    fp=$(sed -n 's/^sha256 Fingerprint=//Ip' <<<"$info" | tr -d ':' | tr 'A-F' 'a-f')
    subject=$(sed -n 's/^subject=//p' <<<"$info")
    issuer=$(sed -n 's/^issuer=//p' <<<"$info")
    nb=$(sed -n 's/^notBefore=//p' <<<"$info")
    na=$(sed -n 's/^notAfter=//p' <<<"$info")
    algo=$(sed -n 's/^ *Public Key Algorithm: //p' <<<"$info")
    bits=$(sed -n 's/^ *Public-Key: (\([0-9]*\) bit)/\1/p' <<<"$info")
    case "$algo" in
    rsaEncryption) keytype="RSA-$bits" ;;
    id-ecPublicKey) keytype="EC-P$bits" ;;
    *) keytype="$algo-$bits" ;;
    esac
    if [ "${MODE_OF[$name]}" = valid ]; then
        local due=$(($(date -u -d "$na" +%s) - RENEW_SECONDS))
        [ "$due" -ge "$RENEW_BY" ] || RENEW_BY=$due
    fi
    local cn=${subject##*CN=}
    cn=${cn%%,*}
    printf '    {"name": %s, "file": %s, "key_file": %s, "role": %s, "sha256": %s,\n' \
        "$(json_str "$name")" "$(json_str "$name.crt")" "$(json_str "$name.key")" \
        "$(json_str "$(role_of "$name")")" "$(json_str "$fp")"
    printf '     "subject_cn": %s, "subject": %s, "issuer": %s, "issuer_name": %s,\n' \
        "$(json_str "$cn")" "$(json_str "$subject")" "$(json_str "$issuer")" \
        "$(json_str "${ISSUER_OF[$name]}")"
    printf '     "not_before": %s, "not_after": %s, "key_type": %s}' \
        "$(json_str "${nb/ /T}")" "$(json_str "${na/ /T}")" "$(json_str "$keytype")"
}

RENEW_BY=$((1 << 62))
{
    printf '{\n  "version": 1,\n  "names": ['
    sep=""
    for n in "${SERVER_NAMES[@]}"; do
        printf '%s%s' "$sep" "$(json_str "$n")"
        sep=", "
    done
    printf '],\n  "bundle": "ca-bundle.crt",\n  "certs": [\n'
    sep=""
    for a in "${ARTEFACTS[@]}"; do
        printf '%s' "$sep"
        manifest_entry "$a"
        sep=$',\n'
    done
    printf '\n  ]\n}\n'
} >"$TMP/MANIFEST.json"
replace_if_changed "$TMP/MANIFEST.json" "$OUT/MANIFEST.json"

# Sanity: the large certificate must really be large (guards a silent recipe change).
large=$("$OPENSSL" x509 -in "$OUT/server-large.crt" -outform DER | wc -c)
[ "$large" -gt "$LARGE_MIN_DER" ] || die "server-large is only $large bytes"

# Record what a full run verified, for the fast path of the next run.
{
    state_now
    printf 'renew_by %s\n' "$RENEW_BY"
} >"$TMP/state"
if ! { [ -f "$STATE" ] && cmp -s "$TMP/state" "$STATE"; }; then
    mv -f "$TMP/state" "$STATE"
fi
