#!/usr/bin/python3
"""The objects a benchmark's bed starts with, as one YAML stream on stdout (kubectl get -o yaml
style: what the standalone agent's folder and the test API server's --preload both read).

  --http N  N HTTPRoutes r0..r<N-1> (namespace scale, host r<i>.example.com) behind the seed's
            Gateway default/prod-web, each with its own Service and EndpointSlice (foo-home's
            address);
  --l4 M    M TCP/UDP routes, alternately a TCPRoute and a UDPRoute, 50 per Gateway
            (scale/l4-<g> on 198.18.101.<g+1>, listener l<j> on port 30000+j), each with its own
            Service and EndpointSlice: TCP to 198.18.3.11:8080, UDP to 198.18.3.31:5353;
  --last FILE  writes "TCP_ADDRESS TCP_PORT UDP_ADDRESS UDP_PORT" of the last L4 routes there.
"""
import argparse
import yaml

PER_GATEWAY = 50


def backend(name, protocol, port, address):
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "scale"},
         "spec": {"ports": [{"name": "p", "port": port, "protocol": protocol}]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": f"{name}-1", "namespace": "scale",
                      "labels": {"kubernetes.io/service-name": name}},
         "addressType": "IPv4", "ports": [{"name": "p", "port": port, "protocol": protocol}],
         "endpoints": [{"addresses": [address], "conditions": {"ready": True}}]},
    ]


def http_routes(n):
    docs = []
    for i in range(n):
        name = f"s{i}"
        docs += backend(name, "TCP", 8080, "198.18.1.12")
        docs.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                     "metadata": {"name": f"r{i}", "namespace": "scale"},
                     "spec": {"parentRefs": [{"name": "prod-web", "namespace": "default"}],
                              "hostnames": [f"r{i}.example.com"],
                              "rules": [{"backendRefs": [{"name": name, "port": 8080}]}]}})
    return docs


def l4_routes(m):
    """The documents, and the (address, port) of the last TCP and the last UDP route."""
    docs, last = [], {}
    gateways = (m + PER_GATEWAY - 1) // PER_GATEWAY
    for g in range(gateways):
        address = f"198.18.101.{g + 1}"
        count = min(PER_GATEWAY, m - g * PER_GATEWAY)
        listeners = []
        for j in range(count):
            tcp = j % 2 == 0
            protocol, kind = ("TCP", "TCPRoute") if tcp else ("UDP", "UDPRoute")
            listeners.append({"name": f"l{j}", "protocol": protocol, "port": 30000 + j,
                              "allowedRoutes": {"kinds": [{"kind": kind}]}})
            name = f"{'t' if tcp else 'u'}{g}-{j}"
            docs += backend(name, protocol, 8080 if tcp else 5353,
                            "198.18.3.11" if tcp else "198.18.3.31")
            docs.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": kind,
                         "metadata": {"name": name, "namespace": "scale"},
                         "spec": {"parentRefs": [{"name": f"l4-{g}", "sectionName": f"l{j}"}],
                                  "rules": [{"backendRefs": [{"name": name,
                                                              "port": 8080 if tcp else 5353}]}]}})
            last[protocol] = (address, 30000 + j)
        docs.insert(0, {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                        "metadata": {"name": f"l4-{g}", "namespace": "scale"},
                        "spec": {"gatewayClassName": "acme-lb",
                                 "addresses": [{"type": "IPAddress", "value": address}],
                                 "listeners": listeners}})
    return docs, last


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--http", type=int, default=0)
    parser.add_argument("--l4", type=int, default=0)
    parser.add_argument("--last")
    args = parser.parse_args()
    docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scale"}}]
    docs += http_routes(args.http)
    l4, last = l4_routes(args.l4)
    docs += l4
    if args.last and last:
        tcp, udp = last.get("TCP", ("-", 0)), last.get("UDP", ("-", 0))
        with open(args.last, "w") as out:
            out.write(f"{tcp[0]} {tcp[1]} {udp[0]} {udp[1]}\n")
    print(yaml.safe_dump_all(docs))


if __name__ == "__main__":
    main()
