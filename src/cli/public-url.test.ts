import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { publicUrlReaches } from "./public-url.js";

describe("publicUrlReaches", () => {
  const at = (host: string, port: number) => ({ host, port });

  it("decides IP and localhost URLs by host, port and scheme", () => {
    assert.equal(publicUrlReaches("http://127.0.0.1:8080", at("127.0.0.1", 8080)), true);
    assert.equal(publicUrlReaches("http://127.0.0.1:8080", at("127.0.0.1", 18081)), false);
    assert.equal(publicUrlReaches("http://127.0.0.1:8080", at("10.0.0.5", 8080)), false);
    assert.equal(publicUrlReaches("http://localhost:8080", at("127.0.0.1", 8080)), true);
    assert.equal(publicUrlReaches("http://localhost:8080/", at("::1", 8080)), true);
    assert.equal(publicUrlReaches("http://[::1]:8080", at("::1", 8080)), true);
    assert.equal(publicUrlReaches("http://10.0.0.5", at("10.0.0.5", 80)), true);
    assert.equal(publicUrlReaches("http://10.0.0.5", at("10.0.0.5", 8080)), false);
    assert.equal(publicUrlReaches("https://127.0.0.1:8080", at("127.0.0.1", 8080)), false);
  });

  it("a listener on 0.0.0.0 or :: matches any host with the same port", () => {
    assert.equal(publicUrlReaches("http://127.0.0.1:8080", at("0.0.0.0", 8080)), true);
    assert.equal(publicUrlReaches("http://192.0.2.7:8080", at("::", 8080)), true);
    assert.equal(publicUrlReaches("http://192.0.2.7:8080", at("0.0.0.0", 18081)), false);
  });

  it("a DNS name: a proxy in front of a loopback listener, else the port must match", () => {
    assert.equal(publicUrlReaches("http://ca.genfic.internal", at("127.0.0.1", 8080)), true);
    assert.equal(publicUrlReaches("https://ca.genfic.internal", at("127.0.0.1", 8080)), true);
    assert.equal(publicUrlReaches("http://ca.genfic.internal:8080", at("0.0.0.0", 8080)), true);
    assert.equal(publicUrlReaches("http://ca.genfic.internal", at("0.0.0.0", 8080)), false);
  });
});
