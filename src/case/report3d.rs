//! The report's interactive 3D view: surface meshes of the case's
//! structures ([`crate::render::mesh`]), the needle, and the tumour surface
//! coloured by its margin, drawn in the browser by three.js (MIT licence,
//! vendored and bundled in `vendor/three/`, inlined into the page so it
//! opens offline).
//!
//! The scene goes into the page as JSON (vertex and index arrays as base64
//! little-endian buffers); a short script of liverkit's own builds the
//! meshes, looks from the patient's front (anterior, superior up, the
//! patient's right on the viewer's left), turns with the mouse and zooms
//! with the wheel. Once drawn it marks the page `data-canvas="drawn N"`
//! (N: non-white pixels of a thumbnail) or `"blank"` / `"no-webgl"`, which
//! the browser test reads.

use std::fmt::Write as _;

use base64::Engine as _;
use serde::Serialize;

use crate::case::report_html::{escape, FAIL_RGB, PASS_RGB, SHORT_RGB};
use rayon::prelude::*;

use crate::case::figures::Drawn;
use crate::io::structure::Structure;
use crate::render::mesh::{mask_mesh, Mesh};
use crate::volume::Volume;

/// three.js, bundled by `vendor/three/build.sh`.
const THREE_JS: &str = include_str!("../../vendor/three/three.min.js");

/// The most averaging blocks in one structure's bounding box: about 55³,
/// which keeps a whole liver to some 20 000 triangles (a few hundred kB in
/// the page) and still shows a 3 mm vessel on a 1 mm grid.
pub const MAX_SAMPLES: usize = 160_000;

/// The most blocks of all structures together: with more than three
/// structures (a dozen labels of `volumes`) each gets a share, so that the
/// page stays under a few MB.
pub const MAX_SCENE_SAMPLES: usize = 480_000;

/// One structure's surface.
#[derive(Debug, Clone)]
pub struct SceneMesh {
    /// Its name in the legend.
    pub name: String,
    /// Its colour, sRGB.
    pub rgb: [u8; 3],
    /// Its opacity, 0 to 1.
    pub opacity: f32,
    /// Whether it is a tumour (coloured by margin when a margin is known).
    pub tumor: bool,
    /// Its surface.
    pub mesh: Mesh,
    /// A colour per vertex (the tumour by margin), or the structure's own.
    pub vertex_rgb: Option<Vec<[u8; 3]>>,
}

/// What the 3D view shows.
#[derive(Debug, Clone, Default)]
pub struct Scene {
    /// The surfaces, drawn in this order.
    pub meshes: Vec<SceneMesh>,
    /// The needle: its tip and a point on its shaft outside the body side,
    /// RAS+ mm.
    pub needle: Option<([f64; 3], [f64; 3])>,
    /// A cutting plane: a point and its normal, RAS+ mm.
    pub plane: Option<([f64; 3], [f64; 3])>,
    /// A line under the view (what the colours mean).
    pub note: String,
}

/// What the 3D view adds to the structures' surfaces.
#[derive(Debug, Clone, Copy, Default)]
pub struct SceneExtras<'a> {
    /// The needle: tip and a point on the shaft, RAS+ mm.
    pub needle: Option<([f64; 3], [f64; 3])>,
    /// The margin on the tumour surface and the margin required, mm.
    pub margin: Option<(&'a Volume<f32>, f64)>,
    /// A resection's cutting plane: a point and the normal towards the
    /// removed side, RAS+ mm.
    pub plane: Option<([f64; 3], [f64; 3])>,
}

/// How opaque each structure's surface is: the organ faint, so what is
/// inside shows; what is judged solid; a label of `volumes` half.
fn opacity(s: Option<Structure>) -> f32 {
    let Some(s) = s else {
        return 0.55;
    };
    match s {
        Structure::Liver | Structure::Remnant | Structure::ResectedLiver => 0.22,
        Structure::Tumor => 1.0,
        Structure::MarginShortfall => 0.6,
        Structure::AblationZone => 0.4,
        Structure::AblationTarget | Structure::ThermalDamage => 0.25,
    }
}

impl Scene {
    /// The surfaces of `drawn` (empty ones left out) with the needle and
    /// the margin colours of `extras`.
    pub fn build(drawn: &[Drawn<'_>], extras: SceneExtras<'_>) -> Scene {
        let mut scene = Scene::of(drawn);
        scene.needle = extras.needle;
        scene.plane = extras.plane;
        if let Some((map, required_mm)) = extras.margin {
            scene.colour_by_margin(map, required_mm);
        }
        scene
    }

    /// The surfaces of `drawn` (empty ones left out), meshed in parallel.
    pub fn of(drawn: &[Drawn<'_>]) -> Scene {
        let shown = drawn.iter().filter(|d| d.in_scene).count();
        let budget = (MAX_SCENE_SAMPLES / shown.max(1)).min(MAX_SAMPLES);
        let meshes: Vec<Option<SceneMesh>> = drawn
            .par_iter()
            .filter(|d| d.in_scene)
            .map(|d| {
                Some(SceneMesh {
                    name: d.name.to_string(),
                    rgb: d.rgb,
                    opacity: opacity(d.structure),
                    tumor: d.structure == Some(Structure::Tumor),
                    mesh: mask_mesh(d.mask, budget)?,
                    vertex_rgb: None,
                })
            })
            .collect();
        let meshes = meshes.into_iter().flatten().collect();
        Scene {
            meshes,
            needle: None,
            plane: None,
            note: String::new(),
        }
    }

    /// Colours the tumour surfaces by the margin in `margin_map` (finite on
    /// the tumour's surface voxels): red below 0 mm, amber below
    /// `required_mm`, green at or above it.
    pub fn colour_by_margin(&mut self, margin_map: &Volume<f32>, required_mm: f64) {
        for m in self.meshes.iter_mut().filter(|m| m.tumor) {
            let reach = m.mesh.block_voxels as isize + 1;
            let colours = m
                .mesh
                .positions_mm
                .iter()
                .map(|p| match nearest_value(margin_map, p.map(f64::from), reach) {
                    Some(v) if v < 0.0 => FAIL_RGB,
                    Some(v) if (v as f64) < required_mm => SHORT_RGB,
                    Some(_) => PASS_RGB,
                    None => Structure::Tumor.rgb(),
                })
                .collect();
            m.vertex_rgb = Some(colours);
        }
        self.note = format!(
            "Tumour surface by margin: red below 0 mm, amber below {required_mm} mm, green at or above."
        );
    }
}

/// The finite value of `map` nearest (in voxels) to `p_mm` within `reach`
/// voxels along each axis.
fn nearest_value(map: &Volume<f32>, p_mm: [f64; 3], reach: isize) -> Option<f32> {
    let grid = map.grid();
    let c = grid.world_to_voxel(p_mm).map(|v| v.round() as isize);
    let d = grid.dims().map(|v| v as isize);
    let data = map.data();
    let mut best: Option<(isize, f32)> = None;
    for di in -reach..=reach {
        for dj in -reach..=reach {
            for dk in -reach..=reach {
                let ijk = [c[0] + di, c[1] + dj, c[2] + dk];
                if (0..3).any(|a| ijk[a] < 0 || ijk[a] >= d[a]) {
                    continue;
                }
                let v = data[[ijk[0] as usize, ijk[1] as usize, ijk[2] as usize]];
                let r2 = di * di + dj * dj + dk * dk;
                if v.is_finite() && best.is_none_or(|(b, _)| r2 < b) {
                    best = Some((r2, v));
                }
            }
        }
    }
    best.map(|(_, v)| v)
}

#[derive(Serialize)]
struct JsMesh<'a> {
    name: &'a str,
    rgb: [u8; 3],
    opacity: f32,
    positions: String,
    indices: String,
    colors: Option<String>,
}

#[derive(Serialize)]
struct JsScene<'a> {
    meshes: Vec<JsMesh<'a>>,
    needle: Option<([f64; 3], [f64; 3])>,
    plane: Option<([f64; 3], [f64; 3])>,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The scene as JSON safe inside a `<script>` element.
fn scene_json(scene: &Scene) -> String {
    let meshes = scene
        .meshes
        .iter()
        .map(|m| JsMesh {
            name: &m.name,
            rgb: m.rgb,
            opacity: m.opacity,
            positions: b64(bytemuck::cast_slice(&m.mesh.positions_mm)),
            indices: b64(bytemuck::cast_slice(&m.mesh.indices)),
            colors: m.vertex_rgb.as_ref().map(|c| b64(bytemuck::cast_slice(c))),
        })
        .collect();
    let json = serde_json::to_string(&JsScene {
        meshes,
        needle: scene.needle,
        plane: scene.plane,
    })
    .unwrap_or_else(|_| "{\"meshes\":[]}".into());
    // "</" would end the script element early.
    json.replace("</", "<\\/")
}

/// The viewer, liverkit's own: builds the meshes, a frontal camera, mouse
/// rotation and wheel zoom, and marks the page once drawn.
const VIEWER_JS: &str = r#"(function(){
var root=document.documentElement,el=document.getElementById('view3d');
var data=JSON.parse(document.getElementById('scene3d').textContent);
function buf(s,T){var b=atob(s),u=new Uint8Array(b.length);for(var i=0;i<b.length;i++)u[i]=b.charCodeAt(i);return new T(u.buffer);}
var renderer;
try{renderer=new THREE.WebGLRenderer({antialias:true,preserveDrawingBuffer:true});}
catch(e){el.textContent='The 3D view needs WebGL, which this browser does not offer.';root.setAttribute('data-canvas','no-webgl');return;}
var W=Math.min(el.clientWidth||760,760),H=Math.round(W*0.7);
renderer.setPixelRatio(window.devicePixelRatio||1);renderer.setSize(W,H);renderer.setClearColor(0xffffff,1);
el.appendChild(renderer.domElement);
var scene=new THREE.Scene(),pivot=new THREE.Group(),group=new THREE.Group();
scene.add(pivot);pivot.add(group);
var box=new THREE.Box3();
data.meshes.forEach(function(m){
 var g=new THREE.BufferGeometry();
 g.setAttribute('position',new THREE.BufferAttribute(buf(m.positions,Float32Array),3));
 g.setIndex(new THREE.BufferAttribute(buf(m.indices,Uint32Array),1));
 g.computeVertexNormals();g.computeBoundingBox();box.union(g.boundingBox);
 var o={side:THREE.DoubleSide,transparent:m.opacity<1,opacity:m.opacity,depthWrite:m.opacity>=1};
 if(m.colors){g.setAttribute('color',new THREE.BufferAttribute(buf(m.colors,Uint8Array),3,true));o.vertexColors=true;}
 else{o.color=new THREE.Color('rgb('+m.rgb.join(',')+')');}
 var mesh=new THREE.Mesh(g,new THREE.MeshLambertMaterial(o));mesh.renderOrder=m.opacity<1?1:0;group.add(mesh);});
if(data.needle){
 var a=new THREE.Vector3().fromArray(data.needle[0]),b=new THREE.Vector3().fromArray(data.needle[1]);
 var len=a.distanceTo(b),cyl=new THREE.Mesh(new THREE.CylinderGeometry(0.9,0.9,len,12),new THREE.MeshLambertMaterial({color:0x222222}));
 cyl.position.copy(a).add(b).multiplyScalar(0.5);
 cyl.quaternion.setFromUnitVectors(new THREE.Vector3(0,1,0),b.clone().sub(a).normalize());
 group.add(cyl);box.expandByPoint(a);}
var centre=box.getCenter(new THREE.Vector3()),size=box.getSize(new THREE.Vector3()).length()||100;
if(data.plane){
 var q=new THREE.Mesh(new THREE.PlaneGeometry(size,size),new THREE.MeshBasicMaterial({color:0x00bcd4,transparent:true,opacity:0.25,side:THREE.DoubleSide,depthWrite:false}));
 var n=new THREE.Vector3().fromArray(data.plane[1]).normalize(),p=new THREE.Vector3().fromArray(data.plane[0]);
 q.quaternion.setFromUnitVectors(new THREE.Vector3(0,0,1),n);q.position.copy(p.add(n.clone().multiplyScalar(n.dot(centre.clone().sub(p)))));q.renderOrder=2;group.add(q);}
group.position.copy(centre).multiplyScalar(-1);
var camera=new THREE.PerspectiveCamera(30,W/H,size/50,size*20);
camera.up.set(0,0,1);camera.position.set(0,size*1.9,0);camera.lookAt(0,0,0);
scene.add(new THREE.AmbientLight(0xffffff,1.2));
var light=new THREE.DirectionalLight(0xffffff,2.0);light.position.set(0.3,1,0.6);camera.add(light);scene.add(camera);
function draw(){renderer.render(scene,camera);}
var drag=null;
renderer.domElement.addEventListener('pointerdown',function(e){drag=[e.clientX,e.clientY];});
window.addEventListener('pointerup',function(){drag=null;});
renderer.domElement.addEventListener('pointermove',function(e){if(!drag)return;
 pivot.rotateOnWorldAxis(new THREE.Vector3(0,0,1),(e.clientX-drag[0])*0.01);
 pivot.rotateOnWorldAxis(new THREE.Vector3(1,0,0),(e.clientY-drag[1])*0.01);drag=[e.clientX,e.clientY];draw();});
renderer.domElement.addEventListener('wheel',function(e){e.preventDefault();camera.position.multiplyScalar(e.deltaY>0?1.1:0.9);draw();},{passive:false});
draw();
var t=document.createElement('canvas');t.width=64;t.height=45;var x=t.getContext('2d');x.drawImage(renderer.domElement,0,0,64,45);
var d=x.getImageData(0,0,64,45).data,n=0;for(var i=0;i<d.length;i+=4){if(d[i]<245||d[i+1]<245||d[i+2]<245)n++;}
root.setAttribute('data-canvas',n>0?'drawn '+n:'blank');
})();"#;

/// The 3D view's section of the page: heading, container, legend, the
/// scene's data, three.js and the viewer.
pub fn scene_html(scene: &Scene) -> String {
    let mut h =
        String::from("<h2>3D view</h2>\n<div id=\"view3d\" class=\"view3d\"></div>\n<p class=\"legend\">");
    for m in &scene.meshes {
        let [r, g, b] = m.rgb;
        let _ = write!(
            h,
            "<span><i style=\"background:rgb({r},{g},{b})\"></i>{}</span>",
            escape(&m.name)
        );
    }
    if scene.needle.is_some() {
        h.push_str("<span><i style=\"background:#222\"></i>Needle</span>");
    }
    if scene.plane.is_some() {
        h.push_str("<span><i style=\"background:#00bcd4\"></i>Cutting plane</span>");
    }
    let _ = writeln!(
        h,
        "</p>\n<p class=\"small\">Seen from the front (the patient's right on the left, superior up): \
         drag to turn, wheel to zoom. {}</p>",
        escape(&scene.note)
    );
    let _ = writeln!(
        h,
        "<script type=\"application/json\" id=\"scene3d\">{}</script>",
        scene_json(scene)
    );
    let _ = writeln!(h, "<script>{THREE_JS}</script>\n<script>{VIEWER_JS}</script>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scene_json_cannot_close_its_script() {
        let scene = Scene::default();
        let j = scene_json(&scene);
        assert!(j.starts_with("{\"meshes\":[]"));
        assert!(!THREE_JS.contains("</script"));
        assert!(!VIEWER_JS.contains("</script"));
    }
}
