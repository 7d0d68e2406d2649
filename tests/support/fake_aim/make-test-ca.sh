#!/usr/bin/env bash
# Makes a throw-away test CA and a server certificate it signed, for the fake AIM's TLS listener:
#   make-test-ca.sh DIR
# writes DIR/ca.pem (the CA certificate, what --aim-ca-file takes), DIR/server.pem and
# DIR/server.key (for fake_aim.mjs --tls-cert/--tls-key; valid for 127.0.0.1, ::1 and localhost),
# DIR/other-ca.pem (a CA that signed nothing here, to see verification fail), and
# DIR/wrong-host.pem and DIR/wrong-host.key (signed by the test CA, valid for wrong-host.test
# only, to see host name verification fail). P-256 keys, valid for 2 days. Uses only the openssl
# command line.
set -euo pipefail
dir=${1:?usage: make-test-ca.sh DIR}
mkdir -p "$dir"
cd "$dir"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 2 \
  -subj "/CN=mcp-sidecar test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  2>/dev/null
openssl req -x509 "${ec[@]}" -keyout other-ca.key -out other-ca.pem -days 2 \
  -subj "/CN=mcp-sidecar other test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  2>/dev/null
openssl req "${ec[@]}" -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
cat > server.ext <<'EXT'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
EXT
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
  -days 2 -extfile server.ext 2>/dev/null
openssl req "${ec[@]}" -keyout wrong-host.key -out wrong-host.csr -subj "/CN=wrong-host.test" \
  2>/dev/null
cat > wrong-host.ext <<'EXT'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:wrong-host.test
EXT
openssl x509 -req -in wrong-host.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -out wrong-host.pem -days 2 -extfile wrong-host.ext 2>/dev/null
chmod 600 ca.key other-ca.key server.key wrong-host.key
