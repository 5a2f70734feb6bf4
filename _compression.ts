// Copyright 2026 the Reaper authors. MIT license.
/**
 * Automatic response compression, as `Deno.serve({ automaticCompression:
 * true })` does it (Deno 2.9.6), for both engines.
 *
 * This module owns the whole decision and the rewrite of the response:
 * which encoding the request accepts ({@linkcode chooseEncoding}), which
 * responses may be compressed ({@linkcode isCompressibleType},
 * {@linkcode hasNoTransform}, the size floor), the header changes and the
 * compressed body stream ({@linkcode compressResponse}). An engine only
 * calls {@linkcode compressResponse} on the handler's response, when the
 * server's `automaticCompression` is on, before it writes the response head.
 *
 * The rules are Deno's own (`ext/http/http_next.rs`: `is_request_compressible`,
 * `raw_request_compression`, `is_response_compressible`,
 * `modify_compressibility_from_response`; `ext/http/lib.rs`:
 * `preferred_supported_encoding`, `cache_control_has_no_transform`;
 * `ext/http/fly_accept_encoding.rs`; `ext/http/compressible.rs`), checked by
 * measurement against the runtime (`bench/compression_probe.ts`):
 *
 * | Rule | Deno 2.9.6 |
 * |---|---|
 * | Encodings | `br` and `gzip` only (`deflate`, `zstd` are never produced) |
 * | `Accept-Encoding` tokens | split on `,`, trimmed, matched case-sensitively (`GZIP`, `x-gzip`, `*` count for nothing) |
 * | q-values | only the exact form `;q=` (`gzip; q=0.5` is ignored); a q above 1 or one that is no number drops the token; q compared as 32-bit floats |
 * | Choice | `br` if its q ≥ gzip's and ≥ identity's and > 0; else `gzip` if its q ≥ identity's and > 0; else none. Absent tokens have q 0, so ties go to `br` |
 * | Content types | the 613 compressible types of mime-db (`text/html`, `application/json`, `image/svg+xml`, …; not `image/png`, not an unlisted `+json`), matched on the part before `;`, case-insensitively; no `Content-Type`: not compressed |
 * | Size floor | a whole body (string, bytes) under 64 bytes is not compressed; a stream or `Blob` body is, whatever its size |
 * | No body | `null` body (`204`, `304`, redirects, `101`) and `""`: not compressed |
 * | Status, method | not looked at: `404`, `206` without `Content-Range` and `HEAD` are compressed (a `HEAD` answer gets the headers of the compressed one) |
 * | `Content-Encoding` | any value (even `identity`): not compressed again |
 * | `Content-Range` | present: not compressed |
 * | `Cache-Control` | a `no-transform` directive (case-sensitive): not compressed; a malformed `max-age`/`max-stale`/`min-fresh` voids the whole check |
 * | Headers when compressed | `Content-Length` removed; `Content-Encoding: br|gzip` added; `Vary` gets `Accept-Encoding, ` in front unless it names it already, or is set to `Accept-Encoding`; a strong `ETag` becomes weak (`W/` prefix) |
 * | Codec | brotli quality 6, window 22, gzip; flushed after every chunk, so a streamed body is not held back |
 *
 * A response that is not compressed comes back as the same object: that
 * path reads no body, copies no headers and allocates nothing. When a
 * response is compressed, a new `Response` carries the status, a copy of the
 * headers (so immutable headers, from `fetch()` or `Response.redirect()`,
 * need no care) and the body piped through a `CompressionStream`; the body
 * is streamed, never read whole.
 *
 * Two facts are not in the public `Response` API, and are read from the
 * runtime's own response fields when it has them (Deno 2.x): whether the
 * body is a whole string or byte array and its length (for the 64-byte
 * floor), and whether `fetch()` already decoded the body (a proxied
 * response: its `Content-Encoding` then describes bytes that are gone, and
 * Deno ignores it, as this module does). Without those fields every body
 * counts as a stream and a `Content-Encoding` is taken at its word.
 *
 * @module
 */

/** A content coding this module produces. */
export type Encoding = "br" | "gzip";

/**
 * Whole bodies shorter than this many bytes are not compressed (Deno's
 * floor: "by the time we add compression headers … it probably doesn't make
 * sense"). Streamed bodies have no known length and are always compressed.
 */
export const MIN_COMPRESS_SIZE = 64;

/**
 * The compressible types of `ext/http/compressible.rs` (from mime-db
 * fa5e4ef), grouped by top-level type: a word ending in `/` starts a group
 * (one ending in `./`, a group under a longer prefix: the word without its
 * `/`).
 */
const COMPRESSIBLE_LIST = `
application/ 3gpdash-qoe-report+xml 3gpp-ims+xml 3gpphal+json
  3gpphalforms+json activity+json alto-costmap+json alto-costmapfilter+json
  alto-directory+json alto-endpointcost+json alto-endpointcostparams+json
  alto-endpointprop+json alto-endpointpropparams+json alto-error+json
  alto-networkmap+json alto-networkmapfilter+json
  alto-updatestreamcontrol+json alto-updatestreamparams+json atom+xml
  atomcat+xml atomdeleted+xml atomsvc+xml atsc-dwd+xml atsc-held+xml
  atsc-rdt+json atsc-rsat+xml auth-policy+xml beep+xml calendar+json
  calendar+xml captive+json ccmp+xml ccxml+xml cdfx+xml cea-2018+xml
  cellml+xml clue+xml clue_info+xml cnrp+xml coap-group+json
  conference-info+xml cpl+xml csta+xml cstadata+xml csvm+json dart dash+xml
  davmount+xml dialog-info+xml dicom+json dicom+xml dns+json docbook+xml
  dskpp+xml dssc+xml ecmascript elm+json elm+xml emergencycalldata.cap+xml
  emergencycalldata.comment+xml emergencycalldata.control+xml
  emergencycalldata.deviceinfo+xml emergencycalldata.providerinfo+xml
  emergencycalldata.serviceinfo+xml emergencycalldata.subscriberinfo+xml
  emergencycalldata.veds+xml emma+xml emotionml+xml epp+xml
  expect-ct-report+json fdt+xml fhir+json fhir+xml fido.trusted-apps+json
  framework-attributes+xml geo+json geoxacml+xml gml+xml gpx+xml held+xml
  ibe-key-request+xml ibe-pkg-reply+xml im-iscomposing+xml inkml+xml its+xml
  javascript jf2feed+json jose+json jrd+json jscalendar+json json
  json-patch+json jsonml+json jwk+json jwk-set+json kpml-request+xml
  kpml-response+xml ld+json lgr+xml load-control+xml lost+xml lostsync+xml
  mads+xml manifest+json marcxml+xml mathml+xml mathml-content+xml
  mathml-presentation+xml mbms-associated-procedure-description+xml
  mbms-deregister+xml mbms-envelope+xml mbms-msk+xml mbms-msk-response+xml
  mbms-protection-description+xml mbms-reception-report+xml mbms-register+xml
  mbms-register-response+xml mbms-schedule+xml
  mbms-user-service-description+xml media-policy-dataset+xml media_control+xml
  mediaservercontrol+xml merge-patch+json metalink+xml metalink4+xml mets+xml
  mmt-aei+xml mmt-usd+xml mods+xml mrb-consumer+xml mrb-publish+xml
  msc-ivr+xml msc-mixer+xml mud+json nlsml+xml odm+xml oebps-package+xml
  omdoc+xml opc-nodeset+xml p2p-overlay+xml patch-ops-error+xml pidf+xml
  pidf-diff+xml pls+xml poc-settings+xml postscript ppsp-tracker+json
  problem+json problem+xml provenance+xml prs.xsf+xml pskc+xml pvd+json
  raml+yaml rdap+json rdf+xml reginfo+xml reputon+json resource-lists+xml
  resource-lists-diff+xml rfc+xml rlmi+xml rls-services+xml route-apd+xml
  route-s-tsid+xml route-usd+xml rsd+xml rss+xml rtf samlassertion+xml
  samlmetadata+xml sarif+json sarif-external-properties+json sbml+xml
  scaip+xml scim+json senml+json senml+xml senml-etch+json sensml+json
  sensml+xml sep+xml shf+xml simple-filter+xml smil+xml soap+xml
  sparql-results+xml spirits-event+xml srgs+xml sru+xml ssdl+xml ssml+xml
  stix+json swid+xml tar taxii+json td+json tei+xml thraud+xml tlsrpt+json
  toml ttml+xml urc-grpsheet+xml urc-ressheet+xml urc-targetdesc+xml
  urc-uisocketdesc+xml vcard+json vcard+xml vnd.1000minds.decision-model+xml
  vnd.3gpp-prose+xml vnd.3gpp-prose-pc3ch+xml
  vnd.3gpp.access-transfer-events+xml vnd.3gpp.bsf+xml vnd.3gpp.gmop+xml
  vnd.3gpp.mcdata-affiliation-command+xml vnd.3gpp.mcdata-info+xml
  vnd.3gpp.mcdata-service-config+xml vnd.3gpp.mcdata-ue-config+xml
  vnd.3gpp.mcdata-user-profile+xml vnd.3gpp.mcptt-affiliation-command+xml
  vnd.3gpp.mcptt-floor-request+xml vnd.3gpp.mcptt-info+xml
  vnd.3gpp.mcptt-location-info+xml vnd.3gpp.mcptt-mbms-usage-info+xml
  vnd.3gpp.mcptt-service-config+xml vnd.3gpp.mcptt-signed+xml
  vnd.3gpp.mcptt-ue-config+xml vnd.3gpp.mcptt-ue-init-config+xml
  vnd.3gpp.mcptt-user-profile+xml vnd.3gpp.mcvideo-affiliation-command+xml
  vnd.3gpp.mcvideo-affiliation-info+xml vnd.3gpp.mcvideo-info+xml
  vnd.3gpp.mcvideo-location-info+xml vnd.3gpp.mcvideo-mbms-usage-info+xml
  vnd.3gpp.mcvideo-service-config+xml
  vnd.3gpp.mcvideo-transmission-request+xml vnd.3gpp.mcvideo-ue-config+xml
  vnd.3gpp.mcvideo-user-profile+xml vnd.3gpp.mid-call+xml vnd.3gpp.sms+xml
  vnd.3gpp.srvcc-ext+xml vnd.3gpp.srvcc-info+xml
  vnd.3gpp.state-and-event-info+xml vnd.3gpp.ussd+xml vnd.3gpp2.bcmcsinfo+xml
  vnd.adobe.xdp+xml vnd.amadeus+json vnd.amundsen.maze+xml vnd.api+json
  vnd.aplextor.warrp+json vnd.apothekende.reservation+json
  vnd.apple.installer+xml vnd.artisan+json vnd.avalon+json vnd.avistar+xml
  vnd.balsamiq.bmml+xml vnd.bbf.usp.msg+json vnd.bekitzur-stech+json
  vnd.biopax.rdf+xml vnd.byu.uapi+json vnd.capasystems-pg+json
  vnd.chemdraw+xml vnd.citationstyles.style+xml vnd.collection+json
  vnd.collection.doc+json vnd.collection.next+json vnd.coreos.ignition+json
  vnd.criticaltools.wbs+xml vnd.cryptii.pipe+json vnd.ctct.ws+xml
  vnd.cyan.dean.root+xml vnd.cyclonedx+json vnd.cyclonedx+xml vnd.dart
  vnd.datapackage+json vnd.dataresource+json vnd.dece.ttml+xml
  vnd.dm.delegation+xml vnd.document+json vnd.drive+json vnd.dvb.dvbisl+xml
  vnd.dvb.notif-aggregate-root+xml vnd.dvb.notif-container+xml
  vnd.dvb.notif-generic+xml vnd.dvb.notif-ia-msglist+xml
  vnd.dvb.notif-ia-registration-request+xml
  vnd.dvb.notif-ia-registration-response+xml vnd.dvb.notif-init+xml
  vnd.emclient.accessrequest+xml vnd.eprints.data+xml vnd.eszigno3+xml
  vnd.etsi.aoc+xml vnd.etsi.cug+xml vnd.etsi.iptvcommand+xml
  vnd.etsi.iptvdiscovery+xml vnd.etsi.iptvprofile+xml vnd.etsi.iptvsad-bc+xml
  vnd.etsi.iptvsad-cod+xml vnd.etsi.iptvsad-npvr+xml vnd.etsi.iptvservice+xml
  vnd.etsi.iptvsync+xml vnd.etsi.iptvueprofile+xml vnd.etsi.mcid+xml
  vnd.etsi.overload-control-policy-dataset+xml vnd.etsi.pstn+xml
  vnd.etsi.sci+xml vnd.etsi.simservs+xml vnd.etsi.tsl+xml
  vnd.fujifilm.fb.jfi+xml vnd.futoin+json vnd.gentics.grd+json vnd.geo+json
  vnd.geocube+xml vnd.google-earth.kml+xml vnd.gov.sk.e-form+xml
  vnd.gov.sk.xmldatacontainer+xml vnd.hal+json vnd.hal+xml
  vnd.handheld-entertainment+xml vnd.hc+json vnd.heroku+json vnd.hyper+json
  vnd.hyper-item+json vnd.hyperdrive+json vnd.ims.lis.v2.result+json
  vnd.ims.lti.v2.toolconsumerprofile+json vnd.ims.lti.v2.toolproxy+json
  vnd.ims.lti.v2.toolproxy.id+json vnd.ims.lti.v2.toolsettings+json
  vnd.ims.lti.v2.toolsettings.simple+json vnd.informedcontrol.rms+xml
  vnd.infotech.project+xml vnd.iptc.g2.catalogitem+xml
  vnd.iptc.g2.conceptitem+xml vnd.iptc.g2.knowledgeitem+xml
  vnd.iptc.g2.newsitem+xml vnd.iptc.g2.newsmessage+xml
  vnd.iptc.g2.packageitem+xml vnd.iptc.g2.planningitem+xml
  vnd.irepository.package+xml vnd.las.las+json vnd.las.las+xml vnd.leap+json
  vnd.liberty-request+xml vnd.llamagraphics.life-balance.exchange+xml
  vnd.marlin.drm.actiontoken+xml vnd.marlin.drm.conftoken+xml
  vnd.marlin.drm.license+xml vnd.mason+json vnd.micro+json vnd.miele+json
  vnd.mozilla.xul+xml vnd.ms-fontobject vnd.ms-office.activex+xml
  vnd.ms-opentype vnd.ms-playready.initiator+xml
  vnd.ms-printdevicecapabilities+xml vnd.ms-printing.printticket+xml
  vnd.ms-printschematicket+xml vnd.nearst.inv+json vnd.nokia.conml+xml
  vnd.nokia.iptv.config+xml vnd.nokia.landmark+xml
  vnd.nokia.landmarkcollection+xml vnd.nokia.n-gage.ac+xml vnd.nokia.pcd+xml
  vnd.oci.image.manifest.v1+json vnd.oftn.l10n+json
  vnd.oipf.contentaccessdownload+xml vnd.oipf.contentaccessstreaming+xml
  vnd.oipf.dae.svg+xml vnd.oipf.dae.xhtml+xml vnd.oipf.mippvcontrolmessage+xml
  vnd.oipf.spdiscovery+xml vnd.oipf.spdlist+xml vnd.oipf.ueprofile+xml
  vnd.oipf.userprofile+xml vnd.oma.bcast.associated-procedure-parameter+xml
  vnd.oma.bcast.drm-trigger+xml vnd.oma.bcast.imd+xml
  vnd.oma.bcast.notification+xml vnd.oma.bcast.sgdd+xml
  vnd.oma.bcast.smartcard-trigger+xml vnd.oma.bcast.sprov+xml
  vnd.oma.cab-address-book+xml vnd.oma.cab-feature-handler+xml
  vnd.oma.cab-pcc+xml vnd.oma.cab-subs-invite+xml vnd.oma.cab-user-prefs+xml
  vnd.oma.dd2+xml vnd.oma.drm.risd+xml vnd.oma.group-usage-list+xml
  vnd.oma.lwm2m+json vnd.oma.pal+xml vnd.oma.poc.detailed-progress-report+xml
  vnd.oma.poc.final-report+xml vnd.oma.poc.groups+xml
  vnd.oma.poc.invocation-descriptor+xml
  vnd.oma.poc.optimized-progress-report+xml vnd.oma.scidm.messages+xml
  vnd.oma.xcap-directory+xml vnd.omads-email+xml vnd.omads-file+xml
  vnd.omads-folder+xml vnd.openblox.game+xml vnd.openstreetmap.data+xml
  vnd.openxmlformats-package.core-properties+xml
  vnd.openxmlformats-package.digital-signature-xmlsignature+xml
  vnd.openxmlformats-package.relationships+xml vnd.oracle.resource+json
  vnd.otps.ct-kip+xml vnd.pagerduty+json vnd.poc.group-advertisement+xml
  vnd.pwg-xhtml-print+xml vnd.radisys.moml+xml vnd.radisys.msml+xml
  vnd.radisys.msml-audit+xml vnd.radisys.msml-audit-conf+xml
  vnd.radisys.msml-audit-conn+xml vnd.radisys.msml-audit-dialog+xml
  vnd.radisys.msml-audit-stream+xml vnd.radisys.msml-conf+xml
  vnd.radisys.msml-dialog+xml vnd.radisys.msml-dialog-base+xml
  vnd.radisys.msml-dialog-fax-detect+xml
  vnd.radisys.msml-dialog-fax-sendrecv+xml vnd.radisys.msml-dialog-group+xml
  vnd.radisys.msml-dialog-speech+xml vnd.radisys.msml-dialog-transform+xml
  vnd.recordare.musicxml+xml vnd.restful+json vnd.route66.link66+xml
  vnd.seis+json vnd.shootproof+json vnd.shopkick+json vnd.siren+json
  vnd.software602.filler.form+xml vnd.solent.sdkm+xml vnd.sun.wadl+xml
  vnd.sycle+xml vnd.syncml+xml vnd.syncml.dm+xml vnd.syncml.dmddf+xml
  vnd.syncml.dmtnds+xml vnd.tableschema+json vnd.think-cell.ppttc+json
  vnd.tmd.mediaflex.api+xml vnd.uoml+xml vnd.vel+json vnd.wv.csp+xml
  vnd.wv.ssp+xml vnd.xacml+json vnd.xmi+xml
  vnd.yamaha.openscoreformat.osfpvg+xml vnd.zzazz.deck+xml voicexml+xml
  voucher-cms+json wasm watcherinfo+xml webpush-options+json wsdl+xml
  wspolicy+xml x-dtbncx+xml x-dtbook+xml x-dtbresource+xml x-httpd-php
  x-javascript x-ns-proxy-autoconfig x-sh x-tar x-virtualbox-hdd
  x-virtualbox-ova x-virtualbox-ovf x-virtualbox-vbox x-virtualbox-vdi
  x-virtualbox-vhd x-virtualbox-vmdk x-web-app-manifest+json
  x-www-form-urlencoded x-xliff+xml xacml+xml xaml+xml xcap-att+xml
  xcap-caps+xml xcap-diff+xml xcap-el+xml xcap-error+xml xcap-ns+xml
  xcon-conference-info+xml xcon-conference-info-diff+xml xenc+xml xhtml+xml
  xhtml-voice+xml xliff+xml xml xml-dtd xml-patch+xml xmpp+xml xop+xml
  xproc+xml xslt+xml xspf+xml xv+xml yang-data+json yang-data+xml
  yang-patch+json yang-patch+xml yin+xml
application/vnd.openxmlformats-officedocument./ custom-properties+xml
  customxmlproperties+xml drawing+xml drawingml.chart+xml
  drawingml.chartshapes+xml drawingml.diagramcolors+xml
  drawingml.diagramdata+xml drawingml.diagramlayout+xml
  drawingml.diagramstyle+xml extended-properties+xml theme+xml
  themeoverride+xml wordprocessingml.comments+xml
  wordprocessingml.document.glossary+xml wordprocessingml.document.main+xml
  wordprocessingml.endnotes+xml wordprocessingml.fonttable+xml
  wordprocessingml.footer+xml wordprocessingml.footnotes+xml
  wordprocessingml.numbering+xml wordprocessingml.settings+xml
  wordprocessingml.styles+xml wordprocessingml.template.main+xml
  wordprocessingml.websettings+xml
application/vnd.openxmlformats-officedocument.presentationml./
  commentauthors+xml comments+xml handoutmaster+xml notesmaster+xml
  notesslide+xml presentation.main+xml presprops+xml slide+xml slidelayout+xml
  slidemaster+xml slideshow.main+xml slideupdateinfo+xml tablestyles+xml
  tags+xml template.main+xml viewprops+xml
application/vnd.openxmlformats-officedocument.spreadsheetml./ calcchain+xml
  chartsheet+xml comments+xml connections+xml dialogsheet+xml externallink+xml
  pivotcachedefinition+xml pivotcacherecords+xml pivottable+xml querytable+xml
  revisionheaders+xml revisionlog+xml sharedstrings+xml sheet.main+xml
  sheetmetadata+xml styles+xml table+xml tablesinglecells+xml
  template.main+xml usernames+xml volatiledependencies+xml worksheet+xml
font/ otf ttf
image/ bmp svg+xml vnd.adobe.photoshop x-icon x-ms-bmp
message/ imdn+xml rfc822
model/ gltf+json gltf-binary vnd.collada+xml vnd.moml+xml x3d+xml
text/ cache-manifest calender cmd css csv html javascript jsx less markdown
  mdx n3 plain richtext rtf tab-separated-values uri-list vcard vtt
  x-component x-gwt-rpc x-jquery-tmpl x-markdown x-org x-processing x-suse-ymp
  xml yaml
x-shader/ x-fragment x-vertex
`;

const COMPRESSIBLE: ReadonlySet<string> = (() => {
  const set = new Set<string>();
  let type = "";
  for (const word of COMPRESSIBLE_LIST.split(/\s+/)) {
    if (word === "") continue;
    if (word.endsWith("./")) type = word.slice(0, -1);
    else if (word.endsWith("/")) type = word;
    else set.add(type + word);
  }
  return set;
})();

/** How many types {@linkcode isCompressibleType} accepts (for tests). */
export const COMPRESSIBLE_TYPE_COUNT: number = COMPRESSIBLE.size;

/** A q-value as Rust's `f32::from_str` accepts it (bar `inf`/`nan`, which count for nothing anyway). */
const QVALUE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * The encoding Deno would pick for a request's `Accept-Encoding`.
 *
 * Tokens are split on `,` and trimmed; `br`, `gzip` and `identity` count
 * (case-sensitively), each with its highest q-value (`;q=` exactly; 1 when
 * absent). `br` wins ties. See the module doc for the whole table.
 *
 * @param acceptEncoding The request's `Accept-Encoding` (several header
 * lines joined with `", "`, as `Headers.get()` joins them), or `null`.
 * @returns `"br"`, `"gzip"`, or `null` for no compression.
 *
 * @example Browsers get brotli
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { chooseEncoding } from "./_compression.ts";
 *
 * assertEquals(chooseEncoding("gzip, deflate, br, zstd"), "br");
 * assertEquals(chooseEncoding("gzip;q=1.0, br;q=0.9"), "gzip");
 * assertEquals(chooseEncoding("identity"), null);
 * assertEquals(chooseEncoding(null), null);
 * ```
 */
export function chooseEncoding(acceptEncoding: string | null): Encoding | null {
  if (acceptEncoding === null) return null;
  // What browsers and common clients send (Deno has the first four as its
  // own shortcut); each gives what the full parse gives.
  switch (acceptEncoding) {
    case "gzip, deflate, br, zstd":
    case "gzip, deflate, br":
    case "br":
    case "deflate, gzip, br, zstd": // curl --compressed
    case "gzip, br": // Deno's fetch()
    case "br, gzip":
      return "br";
    case "gzip":
    case "gzip, deflate": // Python requests, Node's fetch()
      return "gzip";
    case "":
      return null;
  }
  return parseAcceptEncoding(acceptEncoding);
}

/** The full parse of `fly_accept_encoding` + `preferred_supported_encoding`. */
function parseAcceptEncoding(value: string): Encoding | null {
  // Deno reads the header as UTF-8 and gives up on anything else; header
  // strings carry bytes as Latin-1, so any non-ASCII character ends it here.
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0x7f) return null;
  }
  let br = 0;
  let gzip = 0;
  let identity = 0;
  for (const raw of value.split(",")) {
    const token = raw.trim();
    const at = token.indexOf(";q=");
    const name = at < 0 ? token : token.slice(0, at);
    if (name !== "br" && name !== "gzip" && name !== "identity") continue;
    let q = 1;
    if (at >= 0) {
      const text = token.slice(at + 3);
      if (!QVALUE.test(text)) continue;
      q = Math.fround(Number(text));
      if (q > 1) continue;
    }
    if (name === "br") {
      if (q > br) br = q;
    } else if (name === "gzip") {
      if (q > gzip) gzip = q;
    } else if (q > identity) identity = q;
  }
  if (br >= gzip && br >= identity && br > 0) return "br";
  if (gzip >= identity && gzip > 0) return "gzip";
  return null;
}

/**
 * Whether Deno compresses a body of this `Content-Type`: its media type
 * (before any `;`, as is or lower-cased) is one of the compressible types of
 * mime-db that Deno lists.
 *
 * @param contentType The response's `Content-Type`, or `null`.
 * @returns Whether the type is compressible; `false` for `null`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { isCompressibleType } from "./_compression.ts";
 *
 * assert(isCompressibleType("text/html; charset=utf-8"));
 * assert(isCompressibleType("application/json"));
 * assert(!isCompressibleType("image/png"));
 * assert(!isCompressibleType("application/vnd.deno+json"));
 * ```
 */
export function isCompressibleType(contentType: string | null): boolean {
  if (contentType === null) return false;
  const semi = contentType.indexOf(";");
  const type = semi < 0 ? contentType : contentType.slice(0, semi);
  return COMPRESSIBLE.has(type) || COMPRESSIBLE.has(type.toLowerCase());
}

const U64_MAX = "18446744073709551615";

/** Whether `text` parses as a Rust `u64` (`+` allowed, no overflow). */
function isU64(text: string): boolean {
  const digits = text.startsWith("+") ? text.slice(1) : text;
  if (!/^\d+$/.test(digits)) return false;
  const trimmed = digits.replace(/^0+(?=\d)/, "");
  return trimmed.length < U64_MAX.length ||
    (trimmed.length === U64_MAX.length && trimmed <= U64_MAX);
}

/**
 * Whether a `Cache-Control` value forbids compression, by Deno's reading:
 * it has a `no-transform` directive (case-sensitive) and no malformed
 * `max-age`, `max-stale` or `min-fresh` (one of those, say `max-age=x`,
 * makes Deno ignore the whole header).
 *
 * @param cacheControl The response's `Cache-Control`, or `null`.
 * @returns Whether the response must not be compressed.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { hasNoTransform } from "./_compression.ts";
 *
 * assert(hasNoTransform("public, no-transform"));
 * assert(!hasNoTransform("No-Transform"));
 * assert(!hasNoTransform("max-age=x, no-transform"));
 * ```
 */
export function hasNoTransform(cacheControl: string | null): boolean {
  if (cacheControl === null) return false;
  let noTransform = false;
  for (const token of cacheControl.split(",")) {
    const parts = token.split("=");
    const key = parts[0].trim();
    if (key === "no-transform") noTransform = true;
    else if (key === "max-age" || key === "max-stale" || key === "min-fresh") {
      if (parts.length < 2 || !isU64(parts[1].trim())) return false;
    }
  }
  return noTransform;
}

/** The runtime's own fields of a `Response`, when it has them. */
interface ResponseKeys {
  readonly inner: symbol;
  readonly fastStatus: symbol;
  readonly fastBody: symbol;
  readonly lazyBody: symbol;
}

/** `undefined`: not looked up yet; `null`: this runtime has none. */
let responseKeys: ResponseKeys | null | undefined;

function findKeys(response: Response): ResponseKeys | null {
  const byName = new Map<string | undefined, symbol>();
  for (const key of Object.getOwnPropertySymbols(response)) {
    byName.set(key.description, key);
  }
  const inner = byName.get("response");
  const fastStatus = byName.get("serve fast status");
  const fastBody = byName.get("serve fast body");
  const lazyBody = byName.get("lazy static body");
  if (inner === undefined) return null;
  // The fast and lazy fields are newer than the inner response; a symbol
  // that no response has reads as `undefined`, which means "not set".
  const none = Symbol("none");
  return {
    inner,
    fastStatus: fastStatus ?? none,
    fastBody: fastBody ?? none,
    lazyBody: lazyBody ?? none,
  };
}

/** The runtime's inner response of `response`, or `undefined`. */
function innerOf(
  response: Response,
): Record<string, unknown> | undefined {
  if (responseKeys === undefined) responseKeys = findKeys(response);
  if (responseKeys === null) return undefined;
  const inner = (response as unknown as Record<symbol, unknown>)[
    responseKeys.inner
  ];
  return typeof inner === "object" && inner !== null
    ? inner as Record<string, unknown>
    : undefined;
}

/** UTF-8 length of `text`, exact below {@linkcode MIN_COMPRESS_SIZE}. */
function utf8Length(text: string): number {
  if (text.length >= MIN_COMPRESS_SIZE) return text.length;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function staticLength(body: unknown): number {
  if (typeof body === "string") return utf8Length(body);
  if (body instanceof Uint8Array) return body.byteLength;
  return STREAM;
}

/** {@linkcode bodyLength}: the response has no body. */
const NO_BODY = -2;
/** {@linkcode bodyLength}: the body is a stream (or its length is unknown). */
const STREAM = -1;

/**
 * The length of a whole (string or bytes) body, {@linkcode STREAM} or
 * {@linkcode NO_BODY}, read without touching `response.body` or
 * `response.headers` (either getter takes the runtime off its fast path for
 * static responses).
 */
function bodyLength(response: Response): number {
  const inner = innerOf(response);
  if (inner === undefined) return response.body === null ? NO_BODY : STREAM;
  const fields = response as unknown as Record<symbol, unknown>;
  const keys = responseKeys as ResponseKeys;
  if (fields[keys.fastStatus] !== 0 && fields[keys.fastStatus] !== undefined) {
    const length = staticLength(fields[keys.fastBody]);
    if (length !== STREAM) return length;
  }
  const lazy = fields[keys.lazyBody];
  if (typeof lazy === "string") return utf8Length(lazy);
  const body = inner.body as { streamOrStatic?: unknown } | null | undefined;
  if (body === null || body === undefined) return NO_BODY;
  const source = body.streamOrStatic;
  if (source instanceof ReadableStream) return STREAM;
  return staticLength((source as { body?: unknown } | undefined)?.body);
}

/**
 * Whether `fetch()` decoded the body of `response`, so that its
 * `Content-Encoding`, `Content-Length` and `Transfer-Encoding` describe
 * bytes it no longer has (a proxied response). `Deno.serve` leaves those
 * fields out when it sends such a response; so must every engine.
 *
 * @param response A response.
 * @returns Whether its body was decoded by `fetch()`.
 */
export function decodedByFetch(response: Response): boolean {
  return innerOf(response)?.bodyDecoded === true;
}

/**
 * Deletes the fields that describe bytes `fetch()` decoded away
 * (`Content-Encoding`, `Content-Length`, `Transfer-Encoding`), as
 * `Deno.serve` leaves them out of such a response.
 *
 * @param headers The headers of a response whose body fetch() decoded.
 */
export function dropEncodedFields(headers: Headers): void {
  headers.delete("content-encoding");
  headers.delete("content-length");
  headers.delete("transfer-encoding");
}

/**
 * Compresses a handler's response as `Deno.serve({ automaticCompression:
 * true })` would, for a request with the given `Accept-Encoding`.
 *
 * When no compression applies (the client accepts neither `br` nor `gzip`,
 * the body is missing or a whole body under 64 bytes, the type is not
 * compressible, it is already encoded, it is a range, or `Cache-Control`
 * says `no-transform`), the same `response` is returned untouched: no
 * header is copied and the body is not read. Otherwise a new `Response`
 * with the same status and status text, the headers adjusted (see the
 * module doc) and the body streamed through a `CompressionStream`.
 *
 * Call it only when the server's `automaticCompression` is on, on the
 * response the handler (or `onError`) gave, before the response head is
 * written. The request method is not needed: Deno compresses `HEAD`
 * answers' headers as it does `GET` ones.
 *
 * @param acceptEncoding The request's `Accept-Encoding` (header lines
 * joined with `", "`), or `null` when it has none.
 * @param response The handler's response.
 * @returns `response` itself, or its compressed replacement.
 *
 * @example Compress a page for a browser
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { compressResponse } from "./_compression.ts";
 *
 * const page = new Response("<p>hello</p>".repeat(20), {
 *   headers: { "content-type": "text/html", etag: '"v1"' },
 * });
 * const sent = compressResponse("gzip, deflate, br", page);
 * assertEquals(sent.headers.get("content-encoding"), "br");
 * assertEquals(sent.headers.get("vary"), "Accept-Encoding");
 * assertEquals(sent.headers.get("etag"), 'W/"v1"');
 * await sent.body?.cancel();
 *
 * // No Accept-Encoding: the very same response.
 * const plain = new Response("hello");
 * assertEquals(compressResponse(null, plain), plain);
 * ```
 */
export function compressResponse(
  acceptEncoding: string | null,
  response: Response,
): Response {
  const encoding = chooseEncoding(acceptEncoding);
  if (encoding === null) return response;
  const length = bodyLength(response);
  if (length === NO_BODY || (length >= 0 && length < MIN_COMPRESS_SIZE)) {
    return response;
  }
  const headers = response.headers;
  if (!isCompressibleType(headers.get("content-type"))) return response;
  let decoded = false;
  if (headers.has("content-encoding")) {
    if (!decodedByFetch(response)) return response;
    decoded = true;
  }
  if (headers.has("content-range")) return response;
  if (hasNoTransform(headers.get("cache-control"))) return response;
  const body = response.body;
  if (body === null || response.bodyUsed) return response;

  const out = new Headers(headers);
  out.delete("content-length");
  if (decoded) dropEncodedFields(out);
  const vary = out.get("vary");
  if (vary === null) out.set("vary", "Accept-Encoding");
  else if (!vary.toLowerCase().includes("accept-encoding")) {
    out.set("vary", "Accept-Encoding, " + vary);
  }
  const etag = out.get("etag");
  if (etag !== null && !etag.startsWith("W/")) out.set("etag", "W/" + etag);
  out.set("content-encoding", encoding);
  return new Response(
    body.pipeThrough(
      new CompressionStream(
        (encoding === "br" ? "brotli" : "gzip") as CompressionFormat,
      ),
    ),
    { status: response.status, statusText: response.statusText, headers: out },
  );
}
