// Brick press frame, OpenSCAD. Units: mm.
tube = 50;
wall = 4;
height = 900;
width = 400;

module tube(len) {
    difference() {
        cube([tube, tube, len]);
        translate([wall, wall, -1]) cube([tube - 2*wall, tube - 2*wall, len + 2]);
    }
}

tube(height);
translate([width - tube, 0, 0]) tube(height);
translate([0, 0, height - tube]) rotate([0, 90, 0]) translate([-tube, 0, 0]) tube(width);
translate([0, 0, 300]) rotate([0, 90, 0]) translate([-tube, 0, 0]) tube(width);
