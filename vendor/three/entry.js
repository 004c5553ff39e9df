export {
  Scene, PerspectiveCamera, WebGLRenderer, Group, Mesh, BufferGeometry, BufferAttribute,
  MeshLambertMaterial, MeshBasicMaterial, LineBasicMaterial, Line, LineSegments, AmbientLight, DirectionalLight,
  Vector3, Box3, Color, CylinderGeometry, PlaneGeometry, SphereGeometry, Quaternion, DoubleSide, Matrix4
} from 'three';
