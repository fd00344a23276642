# hoist example VCL: Varnish in front of a site that hoist deploys to S3,
# purged by surrogate key with vmod xkey (Debian: varnish-modules).
#
# hoist writes every object with the metadata "surrogate-key" (the edition
# key and the path key); S3 answers it as x-amz-meta-surrogate-key, and
# vcl_backend_response copies it into xkey, which vmod xkey indexes.
# hoist then purges with:
#
#   PURGE / HTTP/1.1
#   xkey-purge: p-1a2b3c4d5e6f7a8b p-...        (or xkey-softpurge)
#
# to every Varnish node. The answer carries Xkey-Purged: <objects>.
vcl 4.1;

import xkey;

# The origin: the S3 website endpoint of the bucket (it maps dir/ to
# dir/index.html and answers x-amz-meta-* headers), or any server that
# sends Surrogate-Key or xkey headers.
backend default {
    .host = "127.0.0.1";
    .port = "8080";
}

# Who may purge: the hosts hoist runs on.
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        if (req.http.xkey-purge) {
            set req.http.xkey-purged = xkey.purge(req.http.xkey-purge);
        } elsif (req.http.xkey-softpurge) {
            set req.http.xkey-purged = xkey.softpurge(req.http.xkey-softpurge);
        } else {
            return (synth(400, "Send xkey-purge or xkey-softpurge"));
        }
        return (synth(200, "Purged"));
    }
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    # A static site: cookies and credentials do not change the answer.
    unset req.http.Cookie;
    unset req.http.Authorization;
    return (hash);
}

sub vcl_backend_response {
    # The keys of the object, from S3 metadata or a Surrogate-Key header.
    if (!beresp.http.xkey) {
        if (beresp.http.x-amz-meta-surrogate-key) {
            set beresp.http.xkey = beresp.http.x-amz-meta-surrogate-key;
        } elsif (beresp.http.Surrogate-Key) {
            set beresp.http.xkey = beresp.http.Surrogate-Key;
        }
    }
    # A missing page has no keys, so no purge reaches it: keep 404s briefly
    # so that a page added later shows up soon.
    if (beresp.status == 404) {
        set beresp.ttl = 10s;
        set beresp.grace = 0s;
    }
    # Soft-purged objects stay servable for a while as stale content while
    # the fresh copy is fetched.
    if (beresp.grace < 1m) {
        set beresp.grace = 1m;
    }
}

sub vcl_deliver {
    # Keys are for the cache, not for visitors.
    unset resp.http.xkey;
    unset resp.http.x-amz-meta-surrogate-key;
    unset resp.http.Surrogate-Key;
}

sub vcl_synth {
    if (req.method == "PURGE" && req.http.xkey-purged) {
        set resp.http.Xkey-Purged = req.http.xkey-purged;
    }
}
