// The HTML report: one self-contained page (inline CSS and JS, the data as inline JSON, nothing
// fetched), with an interactive treemap of bytes by layer and directory (click to zoom in, the
// breadcrumb to go back), the layer table, dive's numbers and the findings.
#include "analyze/analyze.hpp"

#include <string>

namespace gantry::analyze {

namespace {

const char* kHead = R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gantry analyze</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;padding:16px 24px;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.sub{color:#666;font-size:12px;word-break:break-all}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:140px}
.card b{display:block;font-size:18px}
#crumbs{margin:6px 0;font-size:13px}#crumbs a{color:#0645ad;cursor:pointer;text-decoration:underline}
#treemap{position:relative;width:100%;height:520px;background:#fff;border:1px solid #ccc;overflow:hidden}
.tm-node{position:absolute;box-sizing:border-box;border:1px solid #fff;overflow:hidden;cursor:pointer;
 font-size:11px;color:#111;padding:2px 3px;white-space:nowrap;text-overflow:ellipsis}
.tm-node:hover{outline:2px solid #000;z-index:2}
table{border-collapse:collapse;background:#fff;width:100%}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top;font-size:13px}
th{background:#f0f0f0}td.num{text-align:right;white-space:nowrap}
.warn{color:#a15c00;font-weight:bold}.info{color:#555}
details{margin:2px 0}code{font-size:12px}
</style></head><body>
<h1>gantry analyze: <span id="img"></span></h1>
<div class="sub" id="ids"></div>
<div class="cards" id="cards"></div>
<h2>Bytes by layer and directory</h2>
<div id="crumbs"></div>
<div id="treemap"></div>
<h2>Layers</h2><table id="layers"></table>
<h2>Findings</h2><table id="findings"></table>
<h2>GPU vendor components</h2><table id="gpu"></table><div id="gpu-licences"></div>
<h2>Inefficient paths (dive)</h2><table id="ineff"></table>
<script type="application/json" id="report-data">)HTML";

const char* kTail = R"HTML(</script>
<script>
(function(){
"use strict";
var R=JSON.parse(document.getElementById("report-data").textContent);
function human(b){var u=["B","kB","MB","GB","TB"],i=0;while(b>=1000&&i<4){b/=1000;i++;}
 return i?(b<10?b.toFixed(2):b.toFixed(1))+" "+u[i]:b+" B";}
function el(tag,attrs,text){var e=document.createElement(tag);
 for(var k in attrs||{})e.setAttribute(k,attrs[k]);if(text!==undefined)e.textContent=text;return e;}
function row(t,cells,head){var tr=el("tr");cells.forEach(function(c){
 var td=el(head?"th":"td",typeof c==="object"&&c.cls?{"class":c.cls}:{},typeof c==="object"?c.t:c);tr.appendChild(td);});t.appendChild(tr);}
document.getElementById("img").textContent=R.image;
document.getElementById("ids").textContent="id "+R.id+"  manifest "+R.manifest_digest;
var d=R.dive,cards=document.getElementById("cards");
[["efficiency",(d.efficiency*100).toFixed(4)+" %"],["image size",human(d.size_bytes)],
 ["compressed",human(R.compressed_size)],["wasted (dive)",human(d.wasted_bytes)],
 ["user wasted",d.user_wasted_percent===null?(d.user_wasted_percent_special||"n/a"):(d.user_wasted_percent*100).toFixed(2)+" %"],
 ["findings",String(R.findings.length)]].forEach(function(c){var k=el("div",{"class":"card"});
 k.appendChild(el("b",{},c[1]));k.appendChild(document.createTextNode(c[0]));cards.appendChild(k);});
var lt=document.getElementById("layers");
row(lt,["#","compressed","size","files","created by"],true);
R.layers.forEach(function(l){row(lt,[String(l.index),{t:human(l.compressed_size),cls:"num"},{t:human(l.size),cls:"num"},{t:String(l.files),cls:"num"},l.created_by]);});
var ft=document.getElementById("findings");
row(ft,["id","severity","bytes","files","details"],true);
R.findings.forEach(function(f){var tr=el("tr",{"class":"finding","data-id":f.id});
 tr.appendChild(el("td",{},f.id));tr.appendChild(el("td",{"class":f.severity},f.severity));
 tr.appendChild(el("td",{"class":"num"},human(f.bytes)));tr.appendChild(el("td",{"class":"num"},String(f.count)));
 var td=el("td");td.appendChild(el("div",{},f.message));var det=el("details");det.appendChild(el("summary",{},"fix and paths"));
 det.appendChild(el("div",{},"fix: "+f.fix));f.paths.forEach(function(p){det.appendChild(el("div",{},human(p.bytes)+"  /"+p.path));});
 td.appendChild(det);tr.appendChild(td);ft.appendChild(tr);});
if(!R.findings.length)row(ft,["none","","","",""]);
var gt=document.getElementById("gpu"),G=R.gpu_components;
row(gt,["layer","component","versions","files","size","licence (from)","listed"],true);
G.components.forEach(function(c){var tr=el("tr",{"class":"gpu-component","data-id":c.component});
 [String(c.layer),c.name,c.versions.join(", ")||"-",String(c.files),human(c.bytes),
  (c.licence_name||"not in the table")+" ("+(c.licence_from||"-")+")",
  c.list===undefined?"-":(c.listed?"yes":"no")+" ("+c.list+")"].forEach(function(t){tr.appendChild(el("td",{},t));});
 gt.appendChild(tr);});
if(!G.components.length)row(gt,["none","","","","","",""]);
var gl=document.getElementById("gpu-licences");
G.licence_files.forEach(function(f){gl.appendChild(el("div",{"class":"gpu-licence"},"layer "+f.layer+"  "+f.path+": "+(f.name||"(not recognised)")+(f.list?" ["+f.list+"]":"")));});
var it=document.getElementById("ineff");row(it,["count","total space","path"],true);
d.inefficiencies.slice(0,50).forEach(function(x){row(it,[String(x.count),{t:human(x.cumulative_size),cls:"num"},x.path]);});
// squarified treemap
function worst(rowv,w,tot){var s=0,mx=0,mn=Infinity;rowv.forEach(function(n){s+=n.a;mx=Math.max(mx,n.a);mn=Math.min(mn,n.a);});
 var s2=s*s,w2=w*w;return Math.max(w2*mx/s2,s2/(w2*mn));}
function layout(items,x,y,w,h,out){items=items.filter(function(n){return n.size>0;});
 var tot=items.reduce(function(s,n){return s+n.size;},0);if(!tot)return;var scale=w*h/tot;
 var q=items.map(function(n){return {n:n,a:n.size*scale};});
 while(q.length){var side=Math.min(w,h),rowv=[q.shift()];
  while(q.length&&worst(rowv.concat([q[0]]),side)<=worst(rowv,side))rowv.push(q.shift());
  var s=rowv.reduce(function(t,r){return t+r.a;},0);
  if(w>=h){var cw=s/h,cy=y;rowv.forEach(function(r){var ch=r.a/cw;out.push({n:r.n,x:x,y:cy,w:cw,h:ch});cy+=ch;});x+=cw;w-=cw;}
  else{var rh=s/w,cx=x;rowv.forEach(function(r){var rw=r.a/rh;out.push({n:r.n,x:cx,y:y,w:rw,h:rh});cx+=rw;});y+=rh;h-=rh;}}}
var colors=["#8dd3c7","#ffffb3","#bebada","#fb8072","#80b1d3","#fdb462","#b3de69","#fccde5","#d9d9d9","#bc80bd","#ccebc5","#ffed6f"];
var tm=document.getElementById("treemap"),crumbs=document.getElementById("crumbs"),stack=[R.treemap];
function pathOf(){return stack.slice(1).map(function(n){return n.name;}).join("/");}
function draw(){tm.textContent="";crumbs.textContent="";
 stack.forEach(function(n,i){var a=el("a",{},i?n.name:"image ("+human(R.treemap.size)+")");
  a.onclick=function(){stack=stack.slice(0,i+1);draw();};crumbs.appendChild(a);if(i<stack.length-1)crumbs.appendChild(document.createTextNode(" / "));});
 var cur=stack[stack.length-1],kids=cur.children||[],W=tm.clientWidth||900,H=tm.clientHeight||520,out=[];
 layout(kids,0,0,W,H,out);
 out.forEach(function(r,i){var n=r.n,lay=stack.length>1?stack[1].layer:n.layer;
  var div=el("div",{"class":"tm-node","data-path":(pathOf()?pathOf()+"/":"")+n.name,"data-size":String(n.size),
   title:n.name+"\n"+human(n.size)+" in "+n.files+" file(s)"+(n.children?"\nclick to zoom in":"")});
  div.style.left=r.x+"px";div.style.top=r.y+"px";div.style.width=Math.max(0,r.w)+"px";div.style.height=Math.max(0,r.h)+"px";
  div.style.background=colors[((lay||i+1)-1)%colors.length];
  if(r.w>40&&r.h>14)div.textContent=n.name+" "+human(n.size);
  if(n.children)div.onclick=function(){stack.push(n);draw();};tm.appendChild(div);});
 tm.setAttribute("data-nodes",String(out.length));}
draw();window.addEventListener("resize",draw);
})();
</script></body></html>
)HTML";

} // namespace

std::string render_html(const Report& r) {
    std::string data = to_json(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    // Inside <script>, "</" could close the element: escape it (and U+2028/2029 are JSON-safe).
    std::string safe;
    safe.reserve(data.size());
    for (std::size_t i = 0; i < data.size(); ++i) {
        if (data[i] == '<')
            safe += "\\u003c";
        else if (data[i] == '>')
            safe += "\\u003e";
        else if (data[i] == '&')
            safe += "\\u0026";
        else
            safe += data[i];
    }
    return std::string(kHead) + safe + kTail;
}

} // namespace gantry::analyze
